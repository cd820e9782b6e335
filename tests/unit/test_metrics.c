/* test_metrics.c — registry, exposition text, head parser, scrape endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/vxtime.h"

/* ---- registry and text ---- */

struct stats {
    unsigned peers;
    double rtt;
    int calls;
};

static void collect(struct vx_metrics *m, void *arg)
{
    struct stats *st = arg;
    (void)m;
    st->calls++;
}

struct stats_handles {
    struct stats *st;
    struct vx_gauge *peers, *rtt;
};

static void collect_stats(struct vx_metrics *m, void *arg)
{
    struct stats_handles *h = arg;
    (void)m;
    vx_gauge_set(h->peers, h->st->peers);
    vx_gauge_set(h->rtt, h->st->rtt);
}

static void test_render_exact(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    struct stats st = {.peers = 7, .rtt = 0.25};
    struct stats_handles sh = {.st = &st};
    static const double lat[] = {0.01, 0.1, 1};
    (void)state;

    struct vx_counter *in = vx_metrics_counter(m, "vx6_bytes_total", "Bytes carried.", "path",
                                               "direct", "dir", "in", NULL);
    /* label order does not matter: the same series */
    struct vx_counter *out = vx_metrics_counter(m, "vx6_bytes_total", "Bytes carried.", "dir",
                                                "out", "path", "direct", NULL);
    assert_non_null(in);
    assert_non_null(out);
    assert_ptr_equal(vx_metrics_counter(m, "vx6_bytes_total", "Bytes carried.", "dir", "in", "path",
                                        "direct", NULL),
                     in);
    sh.peers = vx_metrics_gauge(m, "vx6_peers", "Connected peers.", NULL);
    sh.rtt = vx_metrics_gauge(m, "vx6_rtt_seconds", "Smoothed RTT.", NULL);
    struct vx_histogram *h =
            vx_metrics_histogram(m, "vx6_dht_lookup_seconds", "DHT lookup latency.", lat, 3, NULL);
    assert_non_null(h);
    assert_int_equal(vx_metrics_add_collector(m, collect_stats, &sh), 0);
    assert_int_equal(vx_metrics_add_collector(m, collect_stats, &sh), VX_ERR_EXISTS);

    vx_counter_add(in, 1500);
    vx_counter_inc(out);
    vx_histogram_observe(h, 0.005);
    vx_histogram_observe(h, 0.1); /* on a bound: that bucket */
    vx_histogram_observe(h, 0.5);
    vx_histogram_observe(h, 3);
    vx_histogram_observe(h, NAN); /* ignored */

    size_t len;
    char *txt = vx_metrics_render_str(m, &len);
    const char *want = "# HELP vx6_bytes_total Bytes carried.\n"
                       "# TYPE vx6_bytes_total counter\n"
                       "vx6_bytes_total{dir=\"in\",path=\"direct\"} 1500\n"
                       "vx6_bytes_total{dir=\"out\",path=\"direct\"} 1\n"
                       "# HELP vx6_peers Connected peers.\n"
                       "# TYPE vx6_peers gauge\n"
                       "vx6_peers 7\n"
                       "# HELP vx6_rtt_seconds Smoothed RTT.\n"
                       "# TYPE vx6_rtt_seconds gauge\n"
                       "vx6_rtt_seconds 0.25\n"
                       "# HELP vx6_dht_lookup_seconds DHT lookup latency.\n"
                       "# TYPE vx6_dht_lookup_seconds histogram\n"
                       "vx6_dht_lookup_seconds_bucket{le=\"0.01\"} 1\n"
                       "vx6_dht_lookup_seconds_bucket{le=\"0.1\"} 2\n"
                       "vx6_dht_lookup_seconds_bucket{le=\"1\"} 3\n"
                       "vx6_dht_lookup_seconds_bucket{le=\"+Inf\"} 4\n"
                       "vx6_dht_lookup_seconds_sum 3.605\n"
                       "vx6_dht_lookup_seconds_count 4\n";
    assert_string_equal(txt, want);
    assert_int_equal(len, strlen(want));
    free(txt);

    /* Collectors run at each scrape. */
    st.peers = 9;
    struct vx_buf *b = vx_buf_new(1 << 16);
    assert_int_equal(vx_metrics_render(m, b), 0);
    char tmp[4096] = {0};
    vx_buf_copyout(b, tmp, sizeof(tmp) - 1);
    assert_non_null(strstr(tmp, "\nvx6_peers 9\n"));
    vx_buf_free(b);
    /* A buffer too small gets nothing. */
    b = vx_buf_new(64);
    assert_int_equal(vx_metrics_render(m, b), VX_ERR_AGAIN);
    assert_int_equal(vx_buf_len(b), 0);
    vx_buf_free(b);

    assert_int_equal(vx_metrics_remove_collector(m, collect_stats, &sh), 0);
    assert_int_equal(vx_metrics_remove_collector(m, collect_stats, &sh), VX_ERR_NOTFOUND);
    vx_metrics_free(m);
}

static void test_histogram_labels(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    static const double b[] = {1, 2.5};
    (void)state;
    struct vx_histogram *a = vx_metrics_histogram(m, "lat", "L.", b, 2, "op", "get", NULL);
    struct vx_histogram *c = vx_metrics_histogram(m, "lat", "L.", b, 2, "op", "put", NULL);
    assert_non_null(a);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    /* other bounds for the same family: refused */
    static const double b2[] = {1, 3};
    assert_null(vx_metrics_histogram(m, "lat", "L.", b2, 2, "op", "x", NULL));
    vx_histogram_observe(a, 2.5);
    vx_histogram_observe(a, 2.6);
    vx_histogram_observe(a, -1);
    assert_int_equal(vx_histogram_count(a), 3);
    assert_true(fabs(vx_histogram_sum(a) - 4.1) < 1e-9);
    char *txt = vx_metrics_render_str(m, NULL);
    assert_string_equal(txt, "# HELP lat L.\n"
                             "# TYPE lat histogram\n"
                             "lat_bucket{op=\"get\",le=\"1\"} 1\n"
                             "lat_bucket{op=\"get\",le=\"2.5\"} 2\n"
                             "lat_bucket{op=\"get\",le=\"+Inf\"} 3\n"
                             "lat_sum{op=\"get\"} 4.1\n"
                             "lat_count{op=\"get\"} 3\n"
                             "lat_bucket{op=\"put\",le=\"1\"} 0\n"
                             "lat_bucket{op=\"put\",le=\"2.5\"} 0\n"
                             "lat_bucket{op=\"put\",le=\"+Inf\"} 0\n"
                             "lat_sum{op=\"put\"} 0\n"
                             "lat_count{op=\"put\"} 0\n");
    free(txt);
    vx_metrics_free(m);
}

static void test_escaping(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    (void)state;
    struct vx_gauge *g = vx_metrics_gauge(m, "esc", "A \\ help\nwith \"quotes\".", "v",
                                          "back\\slash \"q\"\nline", NULL);
    assert_non_null(g);
    vx_gauge_set(g, -INFINITY);
    struct vx_gauge *g2 = vx_metrics_gauge(m, "esc", "A \\ help\nwith \"quotes\".", "v", "", NULL);
    vx_gauge_set(g2, 1e-300);
    struct vx_gauge *g3 = vx_metrics_gauge(m, "esc", "A \\ help\nwith \"quotes\".", "v", "π", NULL);
    vx_gauge_set(g3, 0.1 + 0.2);
    char *txt = vx_metrics_render_str(m, NULL);
    assert_string_equal(txt, "# HELP esc A \\\\ help\\nwith \"quotes\".\n"
                             "# TYPE esc gauge\n"
                             "esc{v=\"back\\\\slash \\\"q\\\"\\nline\"} -Inf\n"
                             "esc{v=\"\"} 1e-300\n"
                             "esc{v=\"π\"} 0.30000000000000004\n");
    free(txt);
    vx_metrics_free(m);
}

static void test_invalid(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    static const double b[] = {1, 1};
    static const double inf[] = {1, INFINITY};
    (void)state;
    assert_null(vx_metrics_counter(m, "9abc", "x", NULL));
    assert_null(vx_metrics_counter(m, "", "x", NULL));
    assert_null(vx_metrics_counter(m, "a-b", "x", NULL));
    assert_null(vx_metrics_counter(m, "ok", "x", "__reserved", "v", NULL));
    assert_null(vx_metrics_counter(m, "ok", "x", "bad-label", "v", NULL));
    assert_null(vx_metrics_counter(m, "ok", "x", "a", "1", "a", "2", NULL));
    assert_null(vx_metrics_counter(m, "ok", "x", "1a", "v", NULL));
    assert_null(vx_metrics_histogram(m, "h", "x", b, 2, NULL));
    assert_null(vx_metrics_histogram(m, "h", "x", inf, 2, NULL));
    assert_null(vx_metrics_histogram(m, "h", "x", b, 1, "le", "1", NULL));
    assert_null(vx_metrics_histogram(m, "h", "x", b, 0, NULL));
    assert_null(vx_metrics_counter(m, "ok", "x", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
                                   "f", "6", "g", "7", "h", "8", "i", "9", NULL));
    assert_non_null(vx_metrics_counter(m, "ns:ok_1", "x", "le", "fine in a counter", NULL));
    /* same name, another type or help */
    assert_null(vx_metrics_gauge(m, "ns:ok_1", "x", NULL));
    assert_null(vx_metrics_counter(m, "ns:ok_1", "y", NULL));
    char *txt = vx_metrics_render_str(m, NULL);
    assert_string_equal(txt, "# HELP ns:ok_1 x\n# TYPE ns:ok_1 counter\n"
                             "ns:ok_1{le=\"fine in a counter\"} 0\n");
    free(txt);
    vx_metrics_free(m);
    vx_metrics_free(NULL);
}

static void test_empty_and_file(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    struct stats st = {0};
    char *p = NULL;
    size_t n = 0;
    (void)state;
    assert_int_equal(vx_metrics_add_collector(m, collect, &st), 0);
    char *txt = vx_metrics_render_str(m, &n);
    assert_string_equal(txt, "");
    assert_int_equal(n, 0);
    free(txt);
    vx_counter_add(vx_metrics_counter(m, "c_total", "C.", NULL), 18446744073709551615ull);
    FILE *f = open_memstream(&p, &n);
    assert_int_equal(vx_metrics_render_file(m, f), 0);
    fclose(f);
    assert_string_equal(p, "# HELP c_total C.\n# TYPE c_total counter\n"
                           "c_total 18446744073709551615\n");
    free(p);
    assert_int_equal(st.calls, 2);
    vx_metrics_free(m);
}

/* ---- head parser ---- */

static int parse(const char *s, struct vx_metrics_req *r)
{
    return vx_metrics_http_parse(s, strlen(s), r);
}

static void test_parse(void **state)
{
    struct vx_metrics_req r;
    (void)state;
    const char *ok = "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nBODY";
    assert_int_equal(parse(ok, &r), 0);
    assert_int_equal(r.head_len, strlen(ok) - 4);
    assert_int_equal(r.method, VX_METRICS_GET);
    assert_int_equal(r.minor, 1);
    assert_true(r.is_metrics);
    /* every strict prefix of the head needs more bytes */
    for (size_t i = 0; i < r.head_len; i++)
        assert_int_equal(vx_metrics_http_parse(ok, i, &r), VX_ERR_TRUNC);

    assert_int_equal(parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &r), 0);
    assert_int_equal(r.method, VX_METRICS_HEAD);
    assert_int_equal(r.minor, 0);
    assert_true(r.is_metrics);
    assert_int_equal(parse("GET /metricsx HTTP/1.0\r\n\r\n", &r), 0);
    assert_false(r.is_metrics);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), 0);
    assert_false(r.is_metrics);
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r), 0);
    assert_int_equal(r.method, VX_METRICS_OTHER);

    assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n", &r), VX_ERR_VERSION);
    assert_int_equal(parse("GET /metrics HTTP/1.2\r\n\r\n", &r), VX_ERR_VERSION);
    assert_int_equal(parse("GET /metrics\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1 \r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET  /metrics HTTP/1.1\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("\r\nGET /metrics HTTP/1.1\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA b: c\r\n\r\n", &r), VX_ERR_PROTO);
    /* an error in a complete line is reported before the head ends */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nbad\r\n", &r), VX_ERR_PROTO);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA: b\r\n", &r), VX_ERR_TRUNC);

    /* size cap: a head ending exactly at the cap passes, one byte more fails */
    char *big = malloc(VX_METRICS_HEAD_MAX + 100);
    const char *rl = "GET /metrics HTTP/1.1\r\nX: ";
    size_t rll = strlen(rl);
    memcpy(big, rl, rll);
    memset(big + rll, 'a', VX_METRICS_HEAD_MAX - rll - 4);
    memcpy(big + VX_METRICS_HEAD_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(vx_metrics_http_parse(big, VX_METRICS_HEAD_MAX, &r), 0);
    assert_int_equal(r.head_len, VX_METRICS_HEAD_MAX);
    memset(big + rll, 'a', VX_METRICS_HEAD_MAX - rll - 3);
    memcpy(big + VX_METRICS_HEAD_MAX - 3, "\r\n\r\n", 4);
    assert_int_equal(vx_metrics_http_parse(big, VX_METRICS_HEAD_MAX + 1, &r), VX_ERR_TOOBIG);
    assert_int_equal(vx_metrics_http_parse(big, VX_METRICS_HEAD_MAX - 1, &r), VX_ERR_TRUNC);
    free(big);
}

/* ---- server, run in its own thread so the test can use blocking sockets ---- */

struct srv {
    struct vx_metrics *m;
    struct ev_loop *loop;
    ev_async stop;
    pthread_t th;
    int port;
    struct vx_counter *hits;
};

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    ev_run(s->loop, 0);
    return NULL;
}

static void srv_start(struct srv *s, double timeout, unsigned max_clients)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct vx_metrics_server_cfg cfg = {.timeout = timeout, .max_clients = max_clients};
    struct sockaddr_storage ss;
    socklen_t sl;

    memset(s, 0, sizeof(*s));
    s->m = vx_metrics_new();
    s->hits = vx_metrics_counter(s->m, "vx6_test_hits_total", "Hits.", "k", "v", NULL);
    vx_counter_add(s->hits, 42);
    s->loop = ev_loop_new(EVFLAG_AUTO);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(
            vx_metrics_server_start(s->m, s->loop, (struct sockaddr *)&sin, sizeof(sin), &cfg), 0);
    assert_int_equal(
            vx_metrics_server_start(s->m, s->loop, (struct sockaddr *)&sin, sizeof(sin), &cfg),
            VX_ERR_EXISTS);
    assert_int_equal(vx_metrics_server_addr(s->m, &ss, &sl), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_true(s->port > 0);
    ev_async_init(&s->stop, stop_cb);
    ev_async_start(s->loop, &s->stop);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
    ev_async_send(s->loop, &s->stop);
    pthread_join(s->th, NULL);
    ev_async_stop(s->loop, &s->stop);
    vx_metrics_free(s->m);
    ev_loop_destroy(s->loop);
}

static int client_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/* Read until EOF; returns a malloc'ed string. */
static char *read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *p = malloc(cap);
    for (;;) {
        if (cap - len < 1024)
            p = realloc(p, cap *= 2);
        ssize_t n = read(fd, p + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    p[len] = '\0';
    return p;
}

static char *request(int port, const char *req)
{
    int fd = client_connect(port);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char *r = read_all(fd);
    close(fd);
    return r;
}

static void test_server_basic(void **state)
{
    struct srv s;
    char *r;
    (void)state;
    srv_start(&s, 2.0, 0);

    r = request(s.port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
    const char *body = "# HELP vx6_test_hits_total Hits.\n# TYPE vx6_test_hits_total counter\n"
                       "vx6_test_hits_total{k=\"v\"} 42\n";
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(r, cl));
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, body);
    free(r);

    /* HTTP/1.0, bare LF, sent one byte at a time */
    {
        const char *q = "GET /metrics HTTP/1.0\n\n";
        int fd = client_connect(s.port);
        for (size_t i = 0; q[i]; i++) {
            assert_int_equal(write(fd, q + i, 1), 1);
            usleep(2000);
        }
        r = read_all(fd);
        close(fd);
        assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(r, "vx6_test_hits_total{k=\"v\"} 42\n"));
        free(r);
    }

    r = request(s.port, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, "");
    free(r);

    r = request(s.port, "GET /nope HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    assert_null(strstr(r, "vx6_test_hits_total"));
    free(r);

    r = request(s.port, "DELETE /metrics HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 405 ", 13) == 0);
    assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
    free(r);

    r = request(s.port, "GET /metrics HTTP/3.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 505 ", 13) == 0);
    free(r);

    r = request(s.port, "hello\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
    free(r);

    /* an oversized head gets 431 */
    {
        size_t n = VX_METRICS_HEAD_MAX + 10;
        char *big = malloc(n + 1);
        memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
        memset(big + 26, 'a', n - 26);
        big[n] = '\0';
        r = request(s.port, big);
        assert_true(strncmp(r, "HTTP/1.1 431 ", 13) == 0);
        free(r);
        free(big);
    }
    srv_stop(&s);
}

static double now_s(void)
{
    return (double)vx_time_mono_ns() / 1e9;
}

static void test_server_slowloris(void **state)
{
    struct srv s;
    (void)state;
    srv_start(&s, 0.3, 0);

    /* Trickle a byte every 50 ms: the deadline is from accept, not per byte. */
    const char *q = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fd = client_connect(s.port);
    double t0 = now_s();
    int closed = 0;
    for (size_t i = 0; q[i] && !closed; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (send(fd, q + i, 1, MSG_NOSIGNAL) != 1)
            break;
        if (poll(&p, 1, 50) == 1) {
            char c;
            ssize_t n = read(fd, &c, 1);
            assert_true(n <= 0); /* dropped without a response */
            closed = 1;
        }
    }
    double dt = now_s() - t0;
    assert_true(closed);
    assert_true(dt >= 0.25);
    assert_true(dt < 1.5);
    close(fd);

    /* A silent client too. */
    fd = client_connect(s.port);
    t0 = now_s();
    char *r = read_all(fd);
    dt = now_s() - t0;
    assert_string_equal(r, "");
    if (!(dt >= 0.25 && dt < 1.5))
        fail_msg("silent client dropped after %.3f s", dt);
    free(r);
    close(fd);

    /* The server still answers. */
    r = request(s.port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    free(r);
    srv_stop(&s);
}

static void test_server_max_clients(void **state)
{
    struct srv s;
    int fds[4];
    char *r;
    (void)state;
    srv_start(&s, 3.0, 4);
    for (int i = 0; i < 4; i++)
        fds[i] = client_connect(s.port);
    usleep(100000); /* let the server accept them */
    r = request(s.port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 503 ", 13) == 0);
    free(r);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    /* once they are gone, scrapes are served again */
    int ok = 0;
    for (int tries = 0; tries < 50 && !ok; tries++) {
        r = request(s.port, "GET /metrics HTTP/1.1\r\n\r\n");
        ok = strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0;
        free(r);
        if (!ok)
            usleep(20000);
    }
    assert_true(ok);
    srv_stop(&s);
}

static void test_server_curl(void **state)
{
    struct srv s;
    char cmd[256], out[4096] = {0};
    (void)state;
    if (system("command -v curl >/dev/null 2>&1") != 0)
        skip();
    srv_start(&s, 2.0, 0);
    snprintf(cmd, sizeof(cmd), "curl -s -i http://127.0.0.1:%d/metrics", s.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    assert_int_equal(pclose(p), 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(out, "\r\n\r\n# HELP vx6_test_hits_total Hits.\n"));

    snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/x",
             s.port);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    pclose(p);
    out[n] = '\0';
    assert_string_equal(out, "404");

    snprintf(cmd, sizeof(cmd),
             "curl -s -0 -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/metrics", s.port);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    pclose(p);
    out[n] = '\0';
    assert_string_equal(out, "200");
    srv_stop(&s);
}

static void test_server_refuses_remote(void **state)
{
    struct vx_metrics *m = vx_metrics_new();
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6};
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct vx_metrics_server_cfg cfg = {.allow_remote = 1};
    struct sockaddr_un_like {
        sa_family_t f;
        char p[32];
    } un = {.f = AF_UNIX};
    (void)state;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    assert_int_equal(vx_metrics_server_start(m, loop, (struct sockaddr *)&any, sizeof(any), NULL),
                     VX_ERR_DENIED);
    assert_int_equal(vx_metrics_server_start(m, loop, (struct sockaddr *)&any6, sizeof(any6), NULL),
                     VX_ERR_DENIED);
    assert_int_equal(vx_metrics_server_start(m, loop, (struct sockaddr *)&un, sizeof(un), NULL),
                     VX_ERR_BADADDR);
    assert_int_equal(vx_metrics_server_clients(m), 0);
    /* explicitly allowed: binds */
    assert_int_equal(vx_metrics_server_start(m, loop, (struct sockaddr *)&any, sizeof(any), &cfg),
                     0);
    vx_metrics_server_stop(m);
    vx_metrics_server_stop(m);
    /* IPv6 loopback is loopback (skip if the host has no IPv6) */
    int rc = vx_metrics_server_start(m, loop, (struct sockaddr *)&lo6, sizeof(lo6), NULL);
    assert_true(rc == 0 || (rc == VX_ERR_SYS && errno == EADDRNOTAVAIL));
    vx_metrics_free(m);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_render_exact),
            cmocka_unit_test(test_histogram_labels),
            cmocka_unit_test(test_escaping),
            cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_empty_and_file),
            cmocka_unit_test(test_parse),
            cmocka_unit_test(test_server_basic),
            cmocka_unit_test(test_server_slowloris),
            cmocka_unit_test(test_server_max_clients),
            cmocka_unit_test(test_server_curl),
            cmocka_unit_test(test_server_refuses_remote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
