/* fuzz_socks.c — the SOCKS4/4a/5 server parser on arbitrary client bytes.
 *
 * The first input byte picks the options (auth required, SOCKS4 refused) and
 * a chunk size; the rest is fed in chunks, and the results are checked for
 * consistency: consumed never exceeds the input, output stays bounded, a
 * request has a NUL-terminated host, and a reply can always be encoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/errors.h"
#include "front/sniff.h"
#include "front/socks.h"
#include "lib/err.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct vx_socks_opts auth = {.username = "user", .password = "pass"};
    static const struct vx_socks_opts no4 = {.no_socks4 = 1};
    struct vx_socks s;
    size_t off = 1, chunk;
    int rc = VX_SOCKS_MORE;

    vx_log_set_level(VX_LOG_NONE);
    if (size < 1)
        return 0;
    chunk = 1 + (data[0] >> 2);
    vx_socks_init(&s, (data[0] & 3) == 1 ? &auth : (data[0] & 3) == 2 ? &no4 : NULL);
    (void)vx_front_sniff(data + 1, size - 1);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = 0, olen;
        rc = vx_socks_feed(&s, data + off, n, &used);
        if (used > n)
            abort();
        (void)vx_socks_output(&s, &olen);
        if (olen > VX_SOCKS_OUT_MAX)
            abort();
        vx_socks_output_clear(&s);
        off += used;
        if (rc != VX_SOCKS_MORE)
            break;
    }
    if (rc == VX_SOCKS_REQUEST) {
        const struct vx_socks_request *q = vx_socks_request(&s);
        uint8_t rep[VX_SOCKS_REPLY_MAX];
        if (!q || memchr(q->host, 0, sizeof(q->host)) == NULL || q->host[0] == '\0')
            abort();
        if (vx_socks_reply(&s, vx_front_socks5_code(VX_ERR_NOTFOUND), (const void *)&q->addr, rep,
                           sizeof(rep)) <= 0)
            abort();
        if (vx_socks_request(&s) && vx_socks_feed(&s, data, size, &off) != VX_ERR_INVAL)
            abort();
    } else if (rc > VX_SOCKS_REQUEST || rc <= VX_ERR_MIN_) {
        abort();
    }
    return 0;
}
