/* fuzz_http.c — the HTTP proxy request parser on arbitrary client bytes
 * (after Tor's src/test/fuzz/fuzz_http_connect.c).
 *
 * The first byte picks a chunk size; the rest is fed as a client would send
 * it.  On success the request is used the way the front-end will: the
 * rewritten head, the target, auth check and an error response for the host;
 * on failure the error response.  Invariants are checked with abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/http.h"
#include "front/name.h"
#include "lib/err.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vx_http h;
    static char out[VX_HTTP_REWRITE_MAX];
    size_t off = 1, chunk, total = 0;
    int rc = VX_HTTP_MORE;

    vx_log_set_level(VX_LOG_NONE);
    if (size < 1)
        return 0;
    chunk = 1 + data[0] * 4u;
    vx_http_init(&h);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = 0;
        rc = vx_http_feed(&h, (const char *)data + off, n, &used);
        if (used > n)
            abort();
        off += used;
        total += used;
        if (rc != VX_HTTP_MORE)
            break;
    }
    if (total > VX_HTTP_HEAD_MAX)
        abort();
    if (rc == VX_HTTP_REQUEST) {
        const struct vx_http_req *q = vx_http_request(&h);
        struct vx_name nm;
        size_t tl;
        if (!q)
            abort();
        if (q->kind == VX_HTTP_CONNECT || q->kind == VX_HTTP_FORWARD) {
            if (!q->host[0] || q->port == 0 || strlen(q->host) > VX_HTTP_HOST_MAX)
                abort();
            (void)vx_name_parse(q->host, VX_NAME_ALLOW_CLEARNET, &nm);
        }
        if (q->kind == VX_HTTP_FORWARD) {
            int n = vx_http_rewrite_head(&h, out, sizeof(out));
            if (n <= 4 || memcmp(out + n - 4, "\r\n\r\n", 4) != 0)
                abort();
        } else if (vx_http_rewrite_head(&h, out, sizeof(out)) != VX_ERR_INVAL) {
            abort();
        }
        if ((q->kind == VX_HTTP_CONNECT) != (vx_http_target(&h, &tl) == NULL))
            abort();
        (void)vx_http_check_auth(&h, "user", "pass");
        if (vx_http_error_for(VX_ERR_NOTFOUND, q->host, out, sizeof(out)) <= 0)
            abort();
    } else if (rc < 0) {
        int st = vx_http_fail_status(&h);
        if ((st != 400 && st != 431) || vx_http_fail_response(&h, out, sizeof(out)) <= 0)
            abort();
    }
    return 0;
}
