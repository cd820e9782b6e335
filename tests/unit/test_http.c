/* test_http.c — HTTP proxy request parsing, head rewriting, responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "front/http.h"
#include "lib/err.h"

static struct vx_http *hp;

static int setup(void **state)
{
    hp = malloc(sizeof(*hp));
    return hp ? 0 : -1;
}

static int teardown(void **state)
{
    free(hp);
    return 0;
}

/* Feed s in chunks of `chunk` bytes (0 = at once); returns the result and
 * the total consumed. */
static int feed(struct vx_http *h, const char *s, size_t len, size_t chunk, size_t *consumed)
{
    size_t off = 0;
    int rc = VX_HTTP_MORE;
    vx_http_init(h);
    while (off < len) {
        size_t n = chunk && chunk < len - off ? chunk : len - off, used = 0;
        rc = vx_http_feed(h, s + off, n, &used);
        assert_true(used <= n);
        off += used;
        if (rc != VX_HTTP_MORE)
            break;
        assert_int_equal(used, n);
    }
    *consumed = off;
    return rc;
}

static const size_t chunks[] = {0, 1, 2, 5, 13};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

static void test_connect(void **state)
{
    static const char req[] = "CONNECT alice.web.vx6:443 HTTP/1.1\r\n"
                              "Host: alice.web.vx6:443\r\n"
                              "User-Agent: curl/7.88.1\r\n\r\n"
                              "\x16\x03\x01"
                              "early";
    for (size_t i = 0; i < NCHUNKS; i++) {
        size_t used;
        assert_int_equal(feed(hp, req, sizeof(req) - 1, chunks[i], &used), VX_HTTP_REQUEST);
        assert_int_equal(used, sizeof(req) - 1 - 8); /* early data stays */
        const struct vx_http_req *q = vx_http_request(hp);
        assert_non_null(q);
        assert_int_equal(q->kind, VX_HTTP_CONNECT);
        assert_int_equal(q->method, HTTP_CONNECT);
        assert_string_equal(q->host, "alice.web.vx6");
        assert_int_equal(q->port, 443);
        assert_int_equal(q->http_minor, 1);
        assert_int_equal(q->has_proxy_auth, 0);
        size_t tl;
        assert_null(vx_http_target(hp, &tl));
        char out[64];
        assert_int_equal(vx_http_rewrite_head(hp, out, sizeof(out)), VX_ERR_INVAL);
        /* feeding after the request is a caller bug */
        assert_int_equal(vx_http_feed(hp, "x", 1, &used), VX_ERR_INVAL);
        assert_int_equal(used, 0);
    }
}

static void test_connect_v6(void **state)
{
    size_t used;
    const char *r = "CONNECT [2001:db8::1]:22 HTTP/1.1\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_string_equal(vx_http_request(hp)->host, "2001:db8::1");
    assert_int_equal(vx_http_request(hp)->port, 22);
}

static void test_connect_bad_targets(void **state)
{
    static const char *bad[] = {
            "CONNECT alice.web.vx6 HTTP/1.1\r\n\r\n",       /* no port */
            "CONNECT alice.web.vx6: HTTP/1.1\r\n\r\n",      /* empty port */
            "CONNECT alice.web.vx6:0 HTTP/1.1\r\n\r\n",     /* port 0 */
            "CONNECT alice.web.vx6:65536 HTTP/1.1\r\n\r\n", /* port too big */
            "CONNECT alice.web.vx6:8x HTTP/1.1\r\n\r\n",
            "CONNECT :80 HTTP/1.1\r\n\r\n",
            "CONNECT 2001:db8::1:22 HTTP/1.1\r\n\r\n", /* v6 without brackets */
            "CONNECT [2001:db8::1 HTTP/1.1\r\n\r\n",
            "CONNECT [fe80::1%25eth0]:22 HTTP/1.1\r\n\r\n",
            "CONNECT [nothex]:22 HTTP/1.1\r\n\r\n",
            "CONNECT [::1]x:22 HTTP/1.1\r\n\r\n",
            "CONNECT user@host:22 HTTP/1.1\r\n\r\n",
            "CONNECT ho/st:22 HTTP/1.1\r\n\r\n",
    };
    char out[VX_HTTP_RESP_MAX];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t used;
        int rc = feed(hp, bad[i], strlen(bad[i]), 0, &used);
        if (rc != VX_ERR_BADADDR)
            fail_msg("%s: got %d", bad[i], rc);
        assert_null(vx_http_request(hp));
        assert_int_equal(vx_http_fail_status(hp), 400);
        int n = vx_http_fail_response(hp, out, sizeof(out));
        assert_true(n > 0);
        assert_memory_equal(out, "HTTP/1.1 400 Bad Request\r\n", 26);
        /* the error sticks */
        assert_int_equal(vx_http_feed(hp, "x", 1, &used), VX_ERR_BADADDR);
    }
}

static void test_forward(void **state)
{
    static const char req[] = "GET http://Alice.Web.vx6:8080/path/x?q=1#frag HTTP/1.1\r\n"
                              "Host: alice.web.vx6:8080\r\n"
                              "User-Agent: Mozilla/5.0\r\n"
                              "Proxy-Connection: keep-alive\r\n"
                              "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                              "Accept: */*   \r\n"
                              "Connection: keep-alive, X-Hop\r\n"
                              "X-Hop: secret\r\n"
                              "Keep-Alive: timeout=5\r\n"
                              "Content-Length: 4\r\n\r\n"
                              "bodyNEXT";
    static const char want[] = "GET /path/x?q=1 HTTP/1.1\r\n"
                               "Host: Alice.Web.vx6:8080\r\n"
                               "User-Agent: Mozilla/5.0\r\n"
                               "Accept: */*\r\n"
                               "Content-Length: 4\r\n"
                               "Connection: close\r\n\r\n";
    for (size_t i = 0; i < NCHUNKS; i++) {
        size_t used;
        assert_int_equal(feed(hp, req, sizeof(req) - 1, chunks[i], &used), VX_HTTP_REQUEST);
        assert_int_equal(used, sizeof(req) - 1 - 8); /* body stays */
        const struct vx_http_req *q = vx_http_request(hp);
        assert_int_equal(q->kind, VX_HTTP_FORWARD);
        assert_int_equal(q->method, HTTP_GET);
        assert_string_equal(q->host, "Alice.Web.vx6");
        assert_int_equal(q->port, 8080);
        assert_int_equal(q->has_proxy_auth, 1);
        assert_int_equal(q->proxy_auth_ok, 1);
        assert_string_equal(q->username, "user");
        assert_string_equal(q->password, "pass");
        size_t tl;
        const char *t = vx_http_target(hp, &tl);
        assert_int_equal(tl, strlen("/path/x?q=1"));
        assert_memory_equal(t, "/path/x?q=1", tl);
        size_t vl;
        const char *v = vx_http_header(hp, "accept", &vl);
        assert_int_equal(vl, 3);
        assert_memory_equal(v, "*/*", 3);
        assert_null(vx_http_header(hp, "Cookie", &vl));

        char out[VX_HTTP_REWRITE_MAX];
        int n = vx_http_rewrite_head(hp, out, sizeof(out));
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(out, want, n);
        assert_int_equal(vx_http_rewrite_head(hp, out, (size_t)n - 1), VX_ERR_TOOBIG);
        assert_int_equal(vx_http_check_auth(hp, "user", "pass"), 0);
        assert_int_equal(vx_http_check_auth(hp, "user", "pasS"), VX_ERR_AUTH);
        assert_int_equal(vx_http_check_auth(hp, "use", "pass"), VX_ERR_AUTH);
        assert_int_equal(vx_http_check_auth(hp, NULL, NULL), 0);
    }
}

static void test_forward_defaults(void **state)
{
    size_t used;
    char out[VX_HTTP_REWRITE_MAX];
    /* no path, no Host, HTTP/1.0, default port 80 */
    const char *r = "HEAD http://bob.web.vx6 HTTP/1.0\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->port, 80);
    assert_int_equal(vx_http_request(hp)->has_proxy_auth, 0);
    assert_int_equal(vx_http_check_auth(hp, "u", "p"), VX_ERR_AUTH);
    int n = vx_http_rewrite_head(hp, out, sizeof(out));
    static const char want[] = "HEAD / HTTP/1.0\r\nHost: bob.web.vx6\r\nConnection: close\r\n\r\n";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);

    /* query without path; v6 literal; websocket upgrade kept */
    r = "GET http://[2001:db8::5]:81?x HTTP/1.1\r\nConnection: Upgrade\r\n"
        "Upgrade: websocket\r\nhost: other\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 3, &used), VX_HTTP_REQUEST);
    assert_string_equal(vx_http_request(hp)->host, "2001:db8::5");
    assert_int_equal(vx_http_request(hp)->port, 81);
    n = vx_http_rewrite_head(hp, out, sizeof(out));
    static const char want2[] = "GET /?x HTTP/1.1\r\nHost: [2001:db8::5]:81\r\n"
                                "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    assert_int_equal(n, sizeof(want2) - 1);
    assert_memory_equal(out, want2, n);

    /* POST with a chunked body: the body is not consumed */
    r = "POST http://a.b.vx6/x HTTP/1.1\r\nTransfer-Encoding: "
        "chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(used, strlen(r) - strlen("4\r\nbody\r\n0\r\n\r\n"));
    n = vx_http_rewrite_head(hp, out, sizeof(out));
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
}

static void test_forward_bad(void **state)
{
    static const struct {
        const char *req;
        int rc;
    } bad[] = {
            {"GET https://a.b.vx6/ HTTP/1.1\r\n\r\n", VX_ERR_INVAL},
            {"GET ftp://a.b.vx6/ HTTP/1.1\r\n\r\n", VX_ERR_INVAL},
            {"OPTIONS * HTTP/1.1\r\n\r\n", VX_ERR_INVAL},
            {"GET http://user:pw@a.b.vx6/ HTTP/1.1\r\n\r\n", VX_ERR_BADADDR},
            {"GET http:///x HTTP/1.1\r\n\r\n", VX_ERR_BADADDR},
            {"GET http://a.b.vx6:99999/ HTTP/1.1\r\n\r\n", VX_ERR_BADADDR},
            {"GET / HTTP/2.0\r\n\r\n", VX_ERR_PROTO},
            {"get / HTTP/1.1\r\n\r\n", VX_ERR_PROTO},
            {"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", VX_ERR_PROTO},
            {"\x16\x03\x01\x02\x00", VX_ERR_PROTO},
            {"GET / HTTP/1.1\r\n: empty\r\n\r\n", VX_ERR_PROTO},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t used;
        int rc = feed(hp, bad[i].req, strlen(bad[i].req), 1, &used);
        if (rc != bad[i].rc)
            fail_msg("%s: got %d want %d", bad[i].req, rc, bad[i].rc);
        assert_int_equal(vx_http_fail_status(hp), 400);
    }
}

static void test_pac_local(void **state)
{
    size_t used, tl;
    const char *r = "GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1:1080\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 1, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->kind, VX_HTTP_PAC);
    r = "HEAD /proxy.pac?v=2 HTTP/1.1\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->kind, VX_HTTP_PAC);
    r = "POST /proxy.pac HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->kind, VX_HTTP_LOCAL);
    r = "GET /proxy.pacx HTTP/1.1\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->kind, VX_HTTP_LOCAL);
    const char *t = vx_http_target(hp, &tl);
    assert_int_equal(tl, 11);
    assert_memory_equal(t, "/proxy.pacx", 11);
    char out[64];
    assert_int_equal(vx_http_rewrite_head(hp, out, sizeof(out)), VX_ERR_INVAL);
}

static void test_caps(void **state)
{
    size_t used;
    char *big = malloc(VX_HTTP_HEAD_MAX + 100);
    assert_non_null(big);
    /* a head of exactly VX_HTTP_HEAD_MAX bytes passes */
    const char *start = "GET http://a.b.vx6/ HTTP/1.1\r\nX: ";
    size_t sl = strlen(start), total = VX_HTTP_HEAD_MAX;
    memcpy(big, start, sl);
    memset(big + sl, 'v', total - sl - 4);
    memcpy(big + total - 4, "\r\n\r\n", 4);
    assert_int_equal(feed(hp, big, total, 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(used, total);
    /* one byte more is too big: 431, found without reading past the cap */
    memset(big + sl, 'v', total + 1 - sl - 4);
    memcpy(big + total + 1 - 4, "\r\n\r\n", 4);
    for (size_t c = 0; c < 2; c++) {
        assert_int_equal(feed(hp, big, total + 1, c ? 4096 : 0, &used), VX_ERR_TOOBIG);
        assert_int_equal(used, VX_HTTP_HEAD_MAX);
        assert_int_equal(vx_http_fail_status(hp), 431);
        char out[VX_HTTP_RESP_MAX];
        int n = vx_http_fail_response(hp, out, sizeof(out));
        assert_true(n > 0);
        assert_memory_equal(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46);
    }
    /* too many fields */
    size_t off = 0;
    off += (size_t)sprintf(big + off, "CONNECT a.b.vx6:1 HTTP/1.1\r\n");
    for (int i = 0; i <= VX_HTTP_MAX_HEADERS; i++)
        off += (size_t)sprintf(big + off, "X%d: y\r\n", i);
    off += (size_t)sprintf(big + off, "\r\n");
    assert_int_equal(feed(hp, big, off, 7, &used), VX_ERR_TOOBIG);
    assert_int_equal(vx_http_fail_status(hp), 431);
    free(big);
}

static void test_basic(void **state)
{
    char u[256], p[256];
    assert_int_equal(vx_http_parse_basic("Basic YWxhZGRpbjpvcGVuc2VzYW1l", 30, u, p), 0);
    assert_string_equal(u, "aladdin");
    assert_string_equal(p, "opensesame");
    assert_int_equal(vx_http_parse_basic("basic   Og==  ", 14, u, p), 0); /* ":" */
    assert_string_equal(u, "");
    assert_string_equal(p, "");
    assert_int_equal(vx_http_parse_basic("Basic dTpwOnE", 13, u, p), 0); /* "u:p:q", no pad */
    assert_string_equal(u, "u");
    assert_string_equal(p, "p:q");
    assert_int_equal(vx_http_parse_basic("Bearer abc", 10, u, p), VX_ERR_INVAL);
    assert_int_equal(vx_http_parse_basic("Basic", 5, u, p), VX_ERR_INVAL);
    assert_int_equal(vx_http_parse_basic("Basic dXNlcg==", 14, u, p), VX_ERR_INVAL); /* no ':' */
    assert_int_equal(vx_http_parse_basic("Basic d*Nlcg==", 14, u, p), VX_ERR_INVAL);
    assert_int_equal(vx_http_parse_basic("Basic dXNlc", 11, u, p), VX_ERR_INVAL);
    assert_int_equal(vx_http_parse_basic("Basic ADph", 10, u, p), VX_ERR_INVAL); /* NUL */
    /* a malformed header makes auth fail, not the parse */
    size_t used;
    const char *r = "CONNECT a.b.vx6:1 HTTP/1.1\r\nProxy-Authorization: Basic !!\r\n\r\n";
    assert_int_equal(feed(hp, r, strlen(r), 0, &used), VX_HTTP_REQUEST);
    assert_int_equal(vx_http_request(hp)->has_proxy_auth, 1);
    assert_int_equal(vx_http_request(hp)->proxy_auth_ok, 0);
    assert_int_equal(vx_http_check_auth(hp, "", ""), VX_ERR_AUTH);
}

static void test_responses(void **state)
{
    char out[VX_HTTP_RESP_MAX];
    int n = vx_http_connect_ok(out, sizeof(out));
    assert_int_equal(n, 39);
    assert_memory_equal(out, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
    assert_int_equal(vx_http_connect_ok(out, 38), VX_ERR_TOOBIG);

    static const char w404[] = "HTTP/1.1 404 Not Found\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 33\r\n"
                               "Connection: close\r\n\r\n"
                               "vx6: no record for alice.web.vx6\n";
    n = vx_http_error_for(VX_ERR_NOTFOUND, "alice.web.vx6", out, sizeof(out));
    assert_int_equal(n, sizeof(w404) - 1);
    assert_memory_equal(out, w404, n);
    assert_int_equal(vx_http_error_for(VX_ERR_NOTFOUND, "alice.web.vx6", out, 50), VX_ERR_TOOBIG);

    n = vx_http_error_for(VX_ERR_TIMEOUT, "bob.ssh.vx6", out, sizeof(out));
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 504 Gateway Timeout\r\n"));
    n = vx_http_error_for(VX_ERR_DENIED, "example.com", out, sizeof(out));
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 403 Forbidden\r\n"));
    n = vx_http_error_for(VX_ERR_REFUSED, "x.y.vx6", out, sizeof(out));
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 502 Bad Gateway\r\n"));
    n = vx_http_error_for(VX_ERR_BADADDR, "x..vx6", out, sizeof(out));
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));

    static const char w407[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                               "Proxy-Authenticate: Basic realm=\"vx6\"\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 33\r\n"
                               "Connection: close\r\n\r\n"
                               "vx6: proxy authentication needed\n";
    n = vx_http_error_response(407, "vx6: proxy authentication needed", out, sizeof(out));
    assert_int_equal(n, sizeof(w407) - 1);
    assert_memory_equal(out, w407, n);

    /* a line never becomes two */
    n = vx_http_error_response(400, "vx6: a\r\nX-Injected: 1", out, sizeof(out));
    out[n] = '\0';
    assert_null(strstr(out, "X-Injected"));
    assert_non_null(strstr(out, "Content-Length: 7\r\n"));

    n = vx_http_response_head(200, "application/x-ns-proxy-autoconfig", 123, out, sizeof(out));
    out[n] = '\0';
    assert_string_equal(out, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: application/x-ns-proxy-autoconfig\r\n"
                             "Content-Length: 123\r\nConnection: close\r\n\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_connect),
            cmocka_unit_test(test_connect_v6),
            cmocka_unit_test(test_connect_bad_targets),
            cmocka_unit_test(test_forward),
            cmocka_unit_test(test_forward_defaults),
            cmocka_unit_test(test_forward_bad),
            cmocka_unit_test(test_pac_local),
            cmocka_unit_test(test_caps),
            cmocka_unit_test(test_basic),
            cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
