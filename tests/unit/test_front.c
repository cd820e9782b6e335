/* test_front.c — the proxy front-end and the direct path, end to end in one
 * process: client thread -> front (SOCKS5/SOCKS4a/HTTP) -> path -> TCP
 * transport B -> session over [::1] -> transport A -> services -> an echo
 * server thread.  The event loop runs on the main thread while a client
 * thread does blocking I/O; results are checked on the main thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "front/front.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "path/path.h"
#include "service/service.h"
#include "transport/tcp.h"
#include "transport/transport.h"

#define HOST_WEB  "web.--1.ipv6.vx6"
#define HOST_DEAD "dead.--1.ipv6.vx6"

struct env {
    struct ev_loop *loop;
    struct vx_identity ida, idb;
    struct vx_transport *ta, *tb;
    struct vx_services *svcs;
    struct vx_path *path;
    struct vx_front *front;
    uint16_t node_port;
    uint16_t front_port;
    uint16_t echo_port;
    uint16_t dead_port;
    int echo_fd;
    pthread_t echo_thr;
    ev_async stop;
};

static struct env E;

/* ---- echo target ------------------------------------------------------ */

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0)
                goto out;
            off += w;
        }
    }
    shutdown(fd, SHUT_WR);
out:
    close(fd);
    return NULL;
}

static void *echo_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(E.echo_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int listen_v4(uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 64), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A port nothing listens on. */
static uint16_t closed_port(void)
{
    uint16_t p;
    int fd = listen_v4(&p);
    close(fd);
    return p;
}

/* ---- loop / client thread ----------------------------------------------- */

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

struct job {
    void (*fn)(struct job *j);
    /* results */
    uint8_t rep;
    int ok;
    char buf[8192];
    size_t len;
    double elapsed;
    int closed;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->fn(j);
    ev_async_send(E.loop, &E.stop);
    return NULL;
}

static void run(struct job *j)
{
    pthread_t t;
    pthread_create(&t, NULL, job_main, j);
    ev_run(E.loop, 0);
    pthread_join(t, NULL);
}

/* Run the loop alone for ms (to let reapers and timers work). */
static void spin(unsigned ms)
{
    ev_timer t;
    ev_timer_init(&t, (void (*)(struct ev_loop *, ev_timer *, int))stop_cb, ms / 1000.0, 0);
    ev_timer_start(E.loop, &t);
    ev_run(E.loop, 0);
    ev_timer_stop(E.loop, &t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_n(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Read until EOF (or the buffer is full / timeout). */
static size_t recv_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    return len;
}

/* SOCKS5 CONNECT to host:port with ATYP DOMAIN; returns fd after the reply
 * (j->rep set) or -1. */
static int socks5(struct job *j, uint16_t front_port, const char *host, uint16_t port,
                  const char *user, int one_byte, const char *early)
{
    uint8_t req[600];
    size_t n = 0, hl = strlen(host);
    int fd = dial(front_port);
    if (fd < 0)
        return -1;
    req[n++] = 5;
    if (user) {
        req[n++] = 1;
        req[n++] = 2;
    } else {
        req[n++] = 1;
        req[n++] = 0;
    }
    size_t greet = n;
    if (user) {
        size_t ul = strlen(user);
        req[n++] = 1;
        req[n++] = (uint8_t)ul;
        memcpy(req + n, user, ul);
        n += ul;
        req[n++] = 1;
        req[n++] = 'x';
    }
    size_t auth = n;
    req[n++] = 5;
    req[n++] = 1;
    req[n++] = 0;
    req[n++] = 3;
    req[n++] = (uint8_t)hl;
    memcpy(req + n, host, hl);
    n += hl;
    req[n++] = (uint8_t)(port >> 8);
    req[n++] = (uint8_t)port;
    if (early) {
        memcpy(req + n, early, strlen(early));
        n += strlen(early);
    }
    if (one_byte) {
        for (size_t i = 0; i < n; i++) {
            send_all(fd, req + i, 1);
            usleep(1000);
        }
    } else {
        /* Greeting first, then the rest: no pipelining assumptions. */
        send_all(fd, req, greet);
        uint8_t m[2];
        if (recv_n(fd, m, 2) < 0 || m[0] != 5) {
            close(fd);
            return -1;
        }
        if (user) {
            send_all(fd, req + greet, auth - greet);
            uint8_t a[2];
            if (recv_n(fd, a, 2) < 0 || a[1] != 0) {
                close(fd);
                return -1;
            }
        }
        send_all(fd, req + auth, n - auth);
    }
    uint8_t rep[10];
    if (one_byte) {
        uint8_t m[2];
        if (recv_n(fd, m, 2) < 0) {
            close(fd);
            return -1;
        }
    }
    if (recv_n(fd, rep, 10) < 0) {
        close(fd);
        return -1;
    }
    j->rep = rep[1];
    return fd;
}

/* ---- fixtures ------------------------------------------------------------- */

static int setup(void **state)
{
    struct vx_transport_conf tc;
    struct sockaddr_storage ss;
    socklen_t len;
    (void)state;
    vx_log_configure(getenv("VX6_TEST_LOG") ? getenv("VX6_TEST_LOG") : "warn");
    memset(&E, 0, sizeof(E));
    E.loop = ev_loop_new(EVFLAG_AUTO);
    ev_async_init(&E.stop, stop_cb);
    ev_async_start(E.loop, &E.stop);
    vx_identity_generate(&E.ida);
    vx_identity_generate(&E.idb);
    vx_transport_conf_defaults(&tc);
    tc.handshake_timeout_ms = 3000;
    E.ta = vx_transport_tcp_new(E.loop, &E.ida, &tc);
    E.tb = vx_transport_tcp_new(E.loop, &E.idb, &tc);
    assert_int_equal(vx_addr_parse("[::1]:0", VX_ADDR_PORT0, &ss, &len), 0);
    assert_int_equal(vx_transport_listen(E.ta, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(vx_transport_tcp_local_addr(E.ta, &ss, &len), 0);
    E.node_port = vx_addr_port((struct sockaddr *)&ss);

    E.echo_fd = listen_v4(&E.echo_port);
    pthread_create(&E.echo_thr, NULL, echo_main, NULL);
    E.dead_port = closed_port();

    struct vx_service_def defs[2];
    memset(defs, 0, sizeof(defs));
    strcpy(defs[0].name, "web");
    defs[0].has_target = 1;
    vx_addr_parse("127.0.0.1:1", 0, &defs[0].target, &defs[0].target_len);
    vx_addr_set_port((struct sockaddr *)&defs[0].target, E.echo_port);
    strcpy(defs[1].name, "dead");
    defs[1].has_target = 1;
    vx_addr_parse("127.0.0.1:1", 0, &defs[1].target, &defs[1].target_len);
    vx_addr_set_port((struct sockaddr *)&defs[1].target, E.dead_port);
    E.svcs = vx_services_new(E.loop);
    assert_int_equal(vx_services_set(E.svcs, defs, 2), 0);
    vx_transport_set_accept(E.ta, vx_services_accept, E.svcs);

    E.path = vx_path_new(E.loop, E.tb);
    vx_path_set_node_port(E.path, E.node_port);
    vx_path_set_timeout(E.path, 3000);
    struct vx_path_alias al[] = {{"myweb", "web.--1.ipv6"}, {"bad", "a.b.c.d.e"}};
    assert_int_equal(vx_path_set_aliases(E.path, al, 2), 0);
    E.front = vx_front_new(E.loop, E.path);
    assert_int_equal(vx_addr_parse("127.0.0.1:0", VX_ADDR_PORT0, &ss, &len), 0);
    assert_int_equal(vx_front_listen(E.front, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(vx_front_local_addr(E.front, &ss, &len), 0);
    E.front_port = vx_addr_port((struct sockaddr *)&ss);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vx_front_free(E.front);
    vx_path_free(E.path);
    vx_transport_free(E.tb);
    vx_services_free(E.svcs);
    vx_transport_free(E.ta);
    shutdown(E.echo_fd, SHUT_RDWR);
    close(E.echo_fd);
    pthread_join(E.echo_thr, NULL);
    ev_loop_destroy(E.loop);
    return 0;
}

/* ---- SOCKS ------------------------------------------------------------------ */

static void j_socks_echo(struct job *j)
{
    int fd = socks5(j, E.front_port, HOST_WEB, 80, NULL, 0, NULL);
    if (fd < 0)
        return;
    send_all(fd, "ping", 4);
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    close(fd);
}

static void test_socks5_echo(void **state)
{
    struct job j = {.fn = j_socks_echo};
    (void)state;
    run(&j);
    assert_int_equal(j.rep, 0);
    assert_string_equal(j.buf, "ping");
}

/* One byte at a time, with early data right after the request. */
static void j_socks_onebyte(struct job *j)
{
    int fd = socks5(j, E.front_port, HOST_WEB, 80, NULL, 1, "early!");
    if (fd < 0)
        return;
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    close(fd);
}

static void test_socks5_one_byte_early(void **state)
{
    struct job j = {.fn = j_socks_onebyte};
    (void)state;
    run(&j);
    assert_int_equal(j.rep, 0);
    assert_string_equal(j.buf, "early!");
}

/* A large transfer both ways through the tunnel. */
static void *bulk_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *b = malloc(1 << 20);
    for (int i = 0; i < (1 << 20); i++)
        b[i] = (char)(i * 7);
    for (int k = 0; k < 8; k++)
        send_all(fd, b, 1 << 20);
    shutdown(fd, SHUT_WR);
    free(b);
    return NULL;
}

static void j_bulk(struct job *j)
{
    int fd = socks5(j, E.front_port, "myweb.vx6", 80, NULL, 0, NULL);
    if (fd < 0)
        return;
    pthread_t t;
    pthread_create(&t, NULL, bulk_writer, (void *)(intptr_t)fd);
    size_t total = 0;
    int good = 1;
    char buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != (char)(((total + (size_t)i) % (1 << 20)) * 7))
                good = 0;
        total += (size_t)r;
    }
    pthread_join(t, NULL);
    close(fd);
    j->ok = good && total == 8u << 20;
}

static void test_alias_bulk(void **state)
{
    struct job j = {.fn = j_bulk};
    (void)state;
    run(&j);
    assert_int_equal(j.rep, 0);
    assert_true(j.ok);
}

struct errcase {
    const char *host;
    const char *user;
    uint8_t rep;
};

static const struct errcase socks_errs[] = {
        {"nope.--1.ipv6.vx6", NULL, 0xF0},  /* unknown service */
        {HOST_DEAD, NULL, 0x05},            /* dead target */
        {"web.zz--1.ipv6.vx6", NULL, 0xF6}, /* malformed */
        {"example.com", NULL, 0x02},        /* clearnet refused */
        {"unknownalias.vx6", NULL, 0xF0},   /* no such alias */
        {"bad.vx6", NULL, 0xF6},            /* alias to garbage */
        {"abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.vx6", NULL, 0xF0}, /* hidden */
        {"alice.web.vx6", NULL, 0xF0},          /* named, no DHT here */
        {HOST_WEB, "route=relay;hops=3", 0x04}, /* relay not yet */
        {HOST_WEB, "route=bogus", 0x01},        /* bad option */
};

static const struct errcase *cur_err;

static void j_socks_err(struct job *j)
{
    double t0 = now_s();
    int fd = socks5(j, E.front_port, cur_err->host, 80, cur_err->user, 0, NULL);
    j->elapsed = now_s() - t0;
    if (fd < 0) {
        j->rep = 0xEE;
        return;
    }
    /* The connection is closed after the reply. */
    char b[16];
    j->closed = read(fd, b, sizeof(b)) == 0;
    close(fd);
}

static void test_socks5_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(socks_errs) / sizeof(socks_errs[0]); i++) {
        struct job j = {.fn = j_socks_err};
        cur_err = &socks_errs[i];
        run(&j);
        if (j.rep != cur_err->rep)
            fail_msg("%s: reply 0x%02x, expected 0x%02x", cur_err->host, j.rep, cur_err->rep);
        assert_true(j.closed);
        assert_true(j.elapsed < 2.0);
    }
}

/* A node port where nothing listens: host unreachable, quickly. */
static void j_socks_nonode(struct job *j)
{
    double t0 = now_s();
    int fd = socks5(j, E.front_port, HOST_WEB, 80, NULL, 0, NULL);
    j->elapsed = now_s() - t0;
    if (fd >= 0)
        close(fd);
}

static void test_socks5_no_node(void **state)
{
    struct job j = {.fn = j_socks_nonode};
    (void)state;
    vx_path_set_node_port(E.path, closed_port());
    run(&j);
    vx_path_set_node_port(E.path, E.node_port);
    assert_int_equal(j.rep, 0x04);
    assert_true(j.elapsed < 2.0);
}

/* A node that accepts TCP but never answers the handshake: the overall
 * timeout (shortened) ends it; a client that leaves first cancels it. */
static int mute_fd;
static void j_socks_mute(struct job *j)
{
    double t0 = now_s();
    int fd = socks5(j, E.front_port, HOST_WEB, 80, "timeout=400", 0, NULL);
    j->elapsed = now_s() - t0;
    if (fd >= 0)
        close(fd);
}

static void j_leave_early(struct job *j)
{
    int fd = dial(E.front_port);
    static const uint8_t req[] = {5, 1, 0};
    uint8_t m[2];
    send_all(fd, req, 3);
    recv_n(fd, m, 2);
    uint8_t r2[64] = {5, 1, 0, 3, sizeof(HOST_WEB) - 1};
    memcpy(r2 + 5, HOST_WEB, sizeof(HOST_WEB) - 1);
    r2[5 + sizeof(HOST_WEB) - 1] = 0;
    r2[6 + sizeof(HOST_WEB) - 1] = 80;
    send_all(fd, r2, 7 + sizeof(HOST_WEB) - 1);
    usleep(100000);
    close(fd);
    j->ok = 1;
}

static void test_timeout_and_cancel(void **state)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof(s6);
    struct vx_path_stats st;
    (void)state;
    mute_fd = socket(AF_INET6, SOCK_STREAM, 0);
    assert_int_equal(bind(mute_fd, (struct sockaddr *)&s6, sizeof(s6)), 0);
    listen(mute_fd, 16);
    getsockname(mute_fd, (struct sockaddr *)&s6, &len);
    vx_path_set_node_port(E.path, ntohs(s6.sin6_port));

    struct job j = {.fn = j_socks_mute};
    run(&j);
    assert_int_equal(j.rep, 0x06); /* TTL expired: timed out */
    assert_true(j.elapsed >= 0.35 && j.elapsed < 2.0);

    vx_path_get_stats(E.path, &st);
    uint64_t cancelled = st.cancelled;
    struct job k = {.fn = j_leave_early};
    run(&k);
    spin(100);
    vx_path_get_stats(E.path, &st);
    assert_int_equal(st.cancelled, cancelled + 1);
    assert_int_equal(st.active, 0);
    vx_path_set_node_port(E.path, E.node_port);
    close(mute_fd);
}

/* SOCKS4a with a host name. */
static void j_socks4a(struct job *j)
{
    int fd = dial(E.front_port);
    uint8_t req[64] = {4, 1, 0, 80, 0, 0, 0, 1, 'u', 0};
    size_t n = 10;
    memcpy(req + n, HOST_WEB, sizeof(HOST_WEB));
    n += sizeof(HOST_WEB);
    send_all(fd, req, n);
    uint8_t rep[8];
    if (recv_n(fd, rep, 8) == 0)
        j->rep = rep[1];
    send_all(fd, "v4", 2);
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    close(fd);
}

static void test_socks4a(void **state)
{
    struct job j = {.fn = j_socks4a};
    (void)state;
    run(&j);
    assert_int_equal(j.rep, 0x5A);
    assert_string_equal(j.buf, "v4");
}

/* ---- HTTP ------------------------------------------------------------------- */

static const char *http_req;

static void j_http(struct job *j)
{
    double t0 = now_s();
    int fd = dial(E.front_port);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    send_all(fd, http_req, strlen(http_req));
    /* EOF before the answer would cancel the request: wait for it first. */
    poll(&pfd, 1, 5000);
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    j->elapsed = now_s() - t0;
    close(fd);
}

static void http(struct job *j, const char *req)
{
    memset(j, 0, sizeof(*j));
    j->fn = j_http;
    http_req = req;
    run(j);
}

static void test_http_connect(void **state)
{
    struct job j;
    (void)state;
    /* Early bytes after the head go through the tunnel. */
    http(&j, "CONNECT " HOST_WEB ":80 HTTP/1.1\r\nHost: " HOST_WEB ":80\r\n\r\nhello");
    assert_string_equal(j.buf, "HTTP/1.1 200 Connection established\r\n\r\nhello");
}

static void test_http_forward(void **state)
{
    struct job j;
    (void)state;
    http(&j, "GET http://" HOST_WEB "/x?y HTTP/1.1\r\nHost: " HOST_WEB
             "\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n");
    /* The echo target returns what it got: the rewritten head. */
    assert_non_null(strstr(j.buf, "GET /x?y HTTP/1.1\r\n"));
    assert_non_null(strstr(j.buf, "Connection: close\r\n"));
    assert_null(strstr(j.buf, "Proxy-Connection"));
    assert_non_null(strstr(j.buf, "Accept: */*\r\n"));
}

static void test_http_errors(void **state)
{
    struct job j;
    (void)state;
    http(&j, "CONNECT nope.--1.ipv6.vx6:80 HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 404 "));
    http(&j, "CONNECT " HOST_DEAD ":80 HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 502 "));
    assert_non_null(strstr(j.buf, "connection refused"));
    assert_true(j.elapsed < 2.0);
    http(&j, "CONNECT web.zz--1.ipv6.vx6:80 HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 400 "));
    http(&j, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 403 "));
    http(&j, "GET http://example.com/ HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 403 "));
    http(&j, "GET /other HTTP/1.1\r\n\r\n");
    if (!strstr(j.buf, "HTTP/1.1 404 "))
        fail_msg("GET /other: %s", j.buf);
    assert_non_null(strstr(j.buf, "HTTP/1.1 404 "));
    http(&j, "BREW coffee\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 400 "));
}

static void test_pac(void **state)
{
    struct job j;
    char want[64];
    (void)state;
    http(&j, "GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 200 "));
    assert_non_null(strstr(j.buf, "application/x-ns-proxy-autoconfig"));
    snprintf(want, sizeof(want), "SOCKS5 127.0.0.1:%u", E.front_port);
    assert_non_null(strstr(j.buf, want));
    assert_non_null(strstr(j.buf, "FindProxyForURL"));
}

static void test_http_auth(void **state)
{
    struct job j;
    struct vx_front_conf fc = {.username = "u", .password = "p"};
    (void)state;
    assert_int_equal(vx_front_configure(E.front, &fc), 0);
    http(&j, "CONNECT " HOST_WEB ":80 HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(j.buf, "HTTP/1.1 407 "));
    /* dTpw = base64("u:p") */
    http(&j, "CONNECT " HOST_WEB ":80 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\r\nok");
    assert_string_equal(j.buf, "HTTP/1.1 200 Connection established\r\n\r\nok");
    assert_int_equal(vx_front_configure(E.front, NULL), 0);
}

/* ---- limits ------------------------------------------------------------------ */

static void j_slowloris(struct job *j)
{
    double t0 = now_s();
    int fd = dial(E.front_port);
    send_all(fd, "\x05", 1);
    char b[16];
    ssize_t r;
    while ((r = read(fd, b, sizeof(b))) > 0)
        ;
    j->closed = r == 0;
    j->elapsed = now_s() - t0;
    close(fd);
}

static void test_slowloris(void **state)
{
    struct vx_front_conf fc = {.handshake_timeout_ms = 300};
    struct job j = {.fn = j_slowloris};
    (void)state;
    vx_front_configure(E.front, &fc);
    run(&j);
    vx_front_configure(E.front, NULL);
    assert_true(j.closed);
    assert_true(j.elapsed >= 0.25 && j.elapsed < 1.5);
}

static void j_limit(struct job *j)
{
    int fds[3];
    char b[4];
    for (int i = 0; i < 3; i++)
        fds[i] = dial(E.front_port);
    struct timeval tv = {0, 300000};
    for (int i = 0; i < 3; i++)
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* The third is closed at once; the first two wait for a request. */
    j->closed = read(fds[2], b, sizeof(b)) == 0;
    j->ok = read(fds[0], b, sizeof(b)) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

static void test_per_client_limit(void **state)
{
    struct vx_front_conf fc = {.max_conns_per_client = 2};
    struct job j = {.fn = j_limit};
    struct vx_front_stats st;
    (void)state;
    vx_front_configure(E.front, &fc);
    run(&j);
    spin(50);
    vx_front_configure(E.front, NULL);
    assert_true(j.closed);
    assert_true(j.ok);
    vx_front_get_stats(E.front, &st);
    assert_true(st.limited >= 1);
    assert_int_equal(st.active, 0);
}

/* ---- clearnet and forwards ---------------------------------------------------- */

static void j_clearnet(struct job *j)
{
    char host[32];
    snprintf(host, sizeof(host), "127.0.0.1");
    int fd = socks5(j, E.front_port, host, E.echo_port, NULL, 0, "direct");
    if (fd < 0)
        return;
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    close(fd);
}

static void test_clearnet_allowed(void **state)
{
    struct job j = {.fn = j_clearnet};
    (void)state;
    vx_path_set_clearnet(E.path, 1);
    run(&j);
    vx_path_set_clearnet(E.path, 0);
    assert_int_equal(j.rep, 0);
    assert_string_equal(j.buf, "direct");
}

static uint16_t fwd_port;
static void j_forward(struct job *j)
{
    int fd = dial(fwd_port);
    send_all(fd, "fwd", 3);
    shutdown(fd, SHUT_WR);
    j->len = recv_all(fd, j->buf, sizeof(j->buf));
    close(fd);
}

static void test_forward(void **state)
{
    struct sockaddr_storage ss, bound;
    socklen_t len, blen;
    struct job j = {.fn = j_forward};
    int n = 0;
    (void)state;
    vx_addr_parse("127.0.0.1:0", VX_ADDR_PORT0, &ss, &len);
    assert_int_equal(vx_front_add_forward(E.front, (struct sockaddr *)&ss, len, HOST_WEB, 80,
                                          VX_ROUTE_AUTO, 1, &bound, &blen),
                     0);
    fwd_port = vx_addr_port((struct sockaddr *)&bound);
    run(&j);
    assert_string_equal(j.buf, "fwd");
    /* Reloading configured forwards keeps runtime ones. */
    assert_int_equal(vx_front_set_forwards(E.front, NULL, 0), 0);
    memset(&j, 0, sizeof(j));
    j.fn = j_forward;
    run(&j);
    assert_string_equal(j.buf, "fwd");
    assert_int_equal(vx_front_remove_forward(E.front, (struct sockaddr *)&bound, blen), 0);
    assert_int_equal(vx_front_remove_forward(E.front, (struct sockaddr *)&bound, blen),
                     VX_ERR_NOTFOUND);
    (void)n;
    assert_int_equal(vx_front_add_forward(E.front, (struct sockaddr *)&ss, len, "web.zz.ipv6.vx6",
                                          80, VX_ROUTE_AUTO, 1, NULL, NULL),
                     VX_ERR_BADADDR);
}

static void test_opts_parse(void **state)
{
    struct vx_path_opts o = {VX_ROUTE_AUTO, 0, 0, 0};
    (void)state;
    assert_int_equal(vx_path_opts_parse(&o, "alice;route=direct,hops=5;x=y;timeout=2000"), 0);
    assert_int_equal(o.route, VX_ROUTE_DIRECT);
    assert_int_equal(o.hops, 5);
    assert_int_equal(o.timeout_ms, 2000);
    assert_int_equal(vx_path_opts_parse(&o, "hops=9"), VX_ERR_INVAL);
    assert_int_equal(vx_path_opts_parse(&o, "route="), VX_ERR_INVAL);
    assert_int_equal(vx_path_opts_parse(&o, "timeout=1x"), VX_ERR_INVAL);
    assert_int_equal(o.hops, 5);
}

/* After all of this, nothing is left open. */
static void test_nothing_left(void **state)
{
    struct vx_front_stats fs;
    struct vx_path_stats ps;
    (void)state;
    spin(100);
    vx_front_get_stats(E.front, &fs);
    vx_path_get_stats(E.path, &ps);
    assert_int_equal(fs.active, 0);
    assert_int_equal(fs.tunnels, 0);
    assert_int_equal(ps.active, 0);
    assert_true(fs.tunnels_total >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_opts_parse),
            cmocka_unit_test(test_socks5_echo),
            cmocka_unit_test(test_socks5_one_byte_early),
            cmocka_unit_test(test_alias_bulk),
            cmocka_unit_test(test_socks4a),
            cmocka_unit_test(test_socks5_errors),
            cmocka_unit_test(test_socks5_no_node),
            cmocka_unit_test(test_timeout_and_cancel),
            cmocka_unit_test(test_http_connect),
            cmocka_unit_test(test_http_forward),
            cmocka_unit_test(test_http_errors),
            cmocka_unit_test(test_pac),
            cmocka_unit_test(test_http_auth),
            cmocka_unit_test(test_slowloris),
            cmocka_unit_test(test_per_client_limit),
            cmocka_unit_test(test_clearnet_allowed),
            cmocka_unit_test(test_forward),
            cmocka_unit_test(test_nothing_left),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
