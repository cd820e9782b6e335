/* fuzz_metrics_http.c — the metrics endpoint's request-head parser.
 *
 * Besides memory safety, checks that the parser is incremental: a result
 * other than "need more bytes" on a prefix is final (more bytes never change
 * it), and a complete head is reported for exactly the prefixes that hold
 * it, with the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct vx_metrics_req full, part;
    int rc = vx_metrics_http_parse(p, size, &full);

    if (rc == 0 && (full.head_len == 0 || full.head_len > size ||
                    full.head_len > VX_METRICS_HEAD_MAX || p[full.head_len - 1] != '\n'))
        abort();
    if (rc == VX_ERR_TOOBIG && size < VX_METRICS_HEAD_MAX)
        abort();
    for (size_t cut = size / 2, n = 0; n < 3; n++, cut = cut * 3 / 2 + 1) {
        if (cut >= size)
            break;
        int r2 = vx_metrics_http_parse(p, cut, &part);
        if (r2 == VX_ERR_TRUNC) {
            if (rc == 0 && cut >= full.head_len)
                abort();
            continue;
        }
        if (r2 != rc)
            abort();
        if (rc == 0 && (part.head_len != full.head_len || part.method != full.method ||
                        part.minor != full.minor || part.is_metrics != full.is_metrics))
            abort();
    }
    return 0;
}
