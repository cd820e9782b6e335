/* fuzz_http.c — the HTTP proxy request parser on arbitrary client bytes
 * (after Tor's src/test/fuzz/fuzz_http_connect.c).
 *
 * The first byte picks a chunk size; the rest is fed as a client would send
 * it.  On success the request is used the way the front-end will: the
 * rewritten head, the target, auth check and an error response for the host;
 * on failure the error response.  Invariants are checked with abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/http.h"
#include "front/name.h"
#include "lib/err.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What goes to the origin must be one well-formed request head, exactly n
 * bytes, with the same method and one Host: the client's authority. */
static void reparse(const struct vx_http_req *q, const char *head, size_t n)
{
    static struct vx_http h2;
    const struct vx_http_req *q2;
    const char *host;
    size_t used = 0, hl;
    int rc;

    vx_http_init(&h2);
    rc = vx_http_feed(&h2, head, n, &used);
    if (rc == VX_ERR_TOOBIG)
        return; /* the added Host and Connection fields can overflow the limits */
    if (rc != VX_HTTP_REQUEST || used != n || !(q2 = vx_http_request(&h2)))
        abort();
    if (q2->method != q->method || q2->http_minor != q->http_minor ||
        (q2->kind != VX_HTTP_LOCAL && q2->kind != VX_HTTP_PAC))
        abort();
    host = vx_http_header(&h2, "Host", &hl);
    if (!host)
        abort();
    /* the authority as sent: compare what parse_authority() made of it */
    static struct vx_http h3;
    char req[VX_HTTP_HOST_MAX + 64];
    size_t u3;
    int m = snprintf(req, sizeof(req), "CONNECT %.*s HTTP/1.1\r\n\r\n", (int)hl, host);
    if (m < 0 || (size_t)m >= sizeof(req))
        abort();
    vx_http_init(&h3);
    if (vx_http_feed(&h3, req, (size_t)m, &u3) == VX_HTTP_REQUEST) {
        const struct vx_http_req *q3 = vx_http_request(&h3);
        if (strcmp(q3->host, q->host) != 0 || (q3->port != q->port && q->port != 80))
            abort();
    }
}

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
            reparse(q, out, (size_t)n);
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
