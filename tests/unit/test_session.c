/* test_session.c — two TCP + Noise transports in one process on one libev
 * loop over loopback.  Streams are spliced to socketpairs whose other ends
 * the test drives; a relay between the transports can tamper with, replay or
 * black-hole records. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "crypto/channel.h"
#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/tcp.h"
#include "transport/transport.h"
#include "wire/cursor.h"
#include "wire/frame.h"

/* ------------------------------------------------------------------ */
/* application ends: write a deterministic pattern, verify what arrives */

struct app {
    int fd;
    ev_io rw, ww;
    uint32_t tx_seed, rx_seed;
    uint64_t to_send, sent, received, expect;
    int wait_eof_before_send; /* half-close test: answer only after EOF */
    int eof, bad, closed_err_seen, paused;
    int active;
};

static uint8_t pat_byte(uint32_t seed, uint64_t pos)
{
    uint64_t x = (pos >> 3) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32 | seed);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> ((pos & 7) * 8));
}

static struct ev_loop *loop;

static void app_update(struct app *a);

static void app_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct app *a = w->data;
    uint8_t buf[65536];
    ssize_t n = read(a->fd, buf, sizeof(buf));
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pat_byte(a->rx_seed, a->received + (uint64_t)i))
                a->bad = 1;
        a->received += (uint64_t)n;
        return;
    }
    if (n < 0 && errno == EAGAIN)
        return;
    if (n < 0)
        a->closed_err_seen = 1;
    a->eof = 1;
    ev_io_stop(l, &a->rw);
    app_update(a);
}

static void app_write_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct app *a = w->data;
    uint8_t buf[65536];
    size_t want = a->to_send - a->sent;
    if (want > sizeof(buf))
        want = sizeof(buf);
    for (size_t i = 0; i < want; i++)
        buf[i] = pat_byte(a->tx_seed, a->sent + i);
    ssize_t n = want ? send(a->fd, buf, want, MSG_NOSIGNAL) : 0;
    if (n > 0)
        a->sent += (uint64_t)n;
    else if (n < 0 && errno != EAGAIN)
        a->sent = a->to_send; /* peer gone */
    app_update(a);
}

static void app_update(struct app *a)
{
    if (a->sent >= a->to_send && a->active) {
        ev_io_stop(loop, &a->ww);
        if (a->active == 1) {
            shutdown(a->fd, SHUT_WR);
            a->active = 2;
        }
        return;
    }
    if (a->wait_eof_before_send && !a->eof)
        return;
    ev_io_start(loop, &a->ww);
}

/* Make a socketpair: one end for the transport, one for the app. */
static int app_init(struct app *a, uint32_t tx_seed, uint32_t rx_seed, uint64_t to_send)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(a, 0, sizeof(*a));
    a->fd = sv[0];
    fcntl(a->fd, F_SETFL, O_NONBLOCK);
    a->tx_seed = tx_seed;
    a->rx_seed = rx_seed;
    a->to_send = to_send;
    a->active = 1;
    ev_io_init(&a->rw, app_read_cb, a->fd, EV_READ);
    ev_io_init(&a->ww, app_write_cb, a->fd, EV_WRITE);
    a->rw.data = a->ww.data = a;
    return sv[1];
}

static void app_start(struct app *a)
{
    if (!a->paused)
        ev_io_start(loop, &a->rw);
    app_update(a);
}

static void app_stop(struct app *a)
{
    ev_io_stop(loop, &a->rw);
    ev_io_stop(loop, &a->ww);
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

/* ------------------------------------------------------------------ */
/* fixture */

struct side {
    struct vx_identity id;
    struct vx_transport *t;
};

static struct side A, B; /* A dials, B listens */
static struct sockaddr_in b_addr;
static struct sockaddr_in *dial_addr = &b_addr;

enum accept_mode { ACC_SPLICE, ACC_REFUSE, ACC_IGNORE, ACC_CLOSE };

struct sstream { /* one stream as seen by either side */
    struct vx_stream *s; /* released after on_close: do not use then */
    uint8_t peer_id[VX_NODE_ID_LEN]; /* captured when the open succeeded */
    struct app app;
    int opened, open_err, closed, close_err;
    uint32_t idx;
};

#define MAXS 1000
static struct sstream cli[MAXS], srv[MAXS];
static uint32_t nsrv;
static enum accept_mode acc_mode;
static int acc_err;
static uint64_t cli_bytes, srv_bytes; /* each direction per stream */
static int srv_half_close, srv_paused;
static struct vx_stream *ignored_stream;

static void srv_on_close(struct vx_stream *s, int err, void *arg)
{
    struct sstream *x = arg;
    x->closed = 1;
    x->close_err = err;
}

static const struct vx_stream_cbs srv_cbs = {.on_close = srv_on_close};

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    switch (acc_mode) {
    case ACC_REFUSE:
        vx_stream_accept(s, acc_err, NULL, NULL);
        return;
    case ACC_IGNORE:
        ignored_stream = s;
        return;
    default:
        break;
    }
    /* the stream index travels in the target's port */
    uint32_t i = tgt->port;
    assert_true(i < MAXS);
    assert_string_equal(tgt->name, "svc");
    struct sstream *x = &srv[i];
    x->s = s;
    x->idx = i;
    x->opened = 1;
    nsrv++;
    vx_stream_accept(s, 0, &srv_cbs, x);
    if (acc_mode == ACC_CLOSE)
        return;
    int fd = app_init(&x->app, 0x5000 + i, 0x1000 + i, srv_bytes);
    x->app.wait_eof_before_send = srv_half_close;
    x->app.paused = srv_paused;
    assert_int_equal(vx_stream_splice(s, fd), 0);
    app_start(&x->app);
}

static void cli_on_open(struct vx_stream *s, int err, void *arg)
{
    struct sstream *x = arg;
    x->opened = 1;
    x->open_err = err;
    if (err < 0) {
        x->s = NULL;
        return;
    }
    memcpy(x->peer_id, vx_stream_peer_id(s), VX_NODE_ID_LEN);
    int fd = app_init(&x->app, 0x1000 + x->idx, 0x5000 + x->idx, cli_bytes);
    assert_int_equal(vx_stream_splice(s, fd), 0);
    app_start(&x->app);
}

static void cli_on_close(struct vx_stream *s, int err, void *arg)
{
    struct sstream *x = arg;
    x->closed = 1;
    x->close_err = err;
}

static const struct vx_stream_cbs cli_cbs = {.on_open = cli_on_open, .on_close = cli_on_close};

static struct vx_transport_conf test_conf(void)
{
    struct vx_transport_conf c;
    vx_transport_conf_defaults(&c);
    c.handshake_timeout_ms = 2000;
    return c;
}

static void side_init(struct side *x, uint8_t seedbyte, const struct vx_transport_conf *c)
{
    uint8_t seed[VX_SEED_LEN];
    memset(seed, seedbyte, sizeof(seed));
    assert_int_equal(vx_identity_from_seed(&x->id, seed), 0);
    x->t = vx_transport_tcp_new(loop, &x->id, c);
}

static void setup_pair(const struct vx_transport_conf *ca, const struct vx_transport_conf *cb)
{
    struct vx_transport_conf d = test_conf();
    struct sockaddr_storage ss;
    socklen_t sl;
    loop = ev_default_loop(0);
    side_init(&A, 0xa1, ca ? ca : &d);
    side_init(&B, 0xb2, cb ? cb : &d);
    memset(&b_addr, 0, sizeof(b_addr));
    b_addr.sin_family = AF_INET;
    b_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(vx_transport_listen(B.t, (struct sockaddr *)&b_addr, sizeof(b_addr)), 0);
    assert_int_equal(vx_transport_tcp_local_addr(B.t, &ss, &sl), 0);
    memcpy(&b_addr, &ss, sizeof(b_addr));
    vx_transport_set_accept(B.t, accept_cb, NULL);
    memset(cli, 0, sizeof(cli));
    memset(srv, 0, sizeof(srv));
    for (int i = 0; i < MAXS; i++)
        cli[i].app.fd = srv[i].app.fd = -1;
    nsrv = 0;
    acc_mode = ACC_SPLICE;
    srv_half_close = 0;
    srv_paused = 0;
    dial_addr = &b_addr;
    ignored_stream = NULL;
}

static void teardown_pair(void)
{
    for (int i = 0; i < MAXS; i++) {
        app_stop(&cli[i].app);
        app_stop(&srv[i].app);
    }
    vx_transport_free(A.t);
    vx_transport_free(B.t);
    A.t = B.t = NULL;
    /* let the loop settle (nothing of ours should remain active) */
    ev_run(loop, EVRUN_NOWAIT);
}

/* Run the loop until cond() or timeout; returns 1 if cond became true. */
static int (*run_cond)(void);
static int run_timed_out;

static void run_check_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
    if (run_cond())
        ev_break(l, EVBREAK_ONE);
}

static void run_tmo_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    run_timed_out = 1;
    ev_break(l, EVBREAK_ONE);
}

static int run_until(int (*cond)(void), double seconds)
{
    ev_prepare chk;
    ev_timer tmo;
    run_cond = cond;
    run_timed_out = 0;
    if (cond())
        return 1;
    ev_prepare_init(&chk, run_check_cb);
    ev_timer_init(&tmo, run_tmo_cb, seconds, 0);
    ev_prepare_start(loop, &chk);
    ev_timer_start(loop, &tmo);
    ev_run(loop, 0);
    ev_prepare_stop(loop, &chk);
    ev_timer_stop(loop, &tmo);
    return cond();
}

static const uint8_t *id_of(const struct side *x)
{
    return x->id.node_id;
}

static struct vx_stream *open_idx(uint32_t i, const uint8_t *peer, int *err)
{
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = (uint16_t)i};
    strcpy(tgt.name, "svc");
    cli[i].idx = i;
    cli[i].s = vx_transport_open(A.t, peer, (struct sockaddr *)dial_addr, sizeof(*dial_addr), &tgt,
                                 &cli_cbs, &cli[i], err);
    return cli[i].s;
}

static uint32_t n_open;
static int all_done(void)
{
    for (uint32_t i = 0; i < n_open; i++) {
        if (!cli[i].closed || !srv[i].closed)
            return 0;
        if (!cli[i].app.eof || !srv[i].app.eof)
            return 0;
    }
    return 1;
}

static void check_stream_ok(uint32_t i)
{
    assert_int_equal(cli[i].open_err, 0);
    assert_int_equal(cli[i].close_err, 0);
    assert_int_equal(srv[i].close_err, 0);
    assert_false(cli[i].app.bad);
    assert_false(srv[i].app.bad);
    assert_true(cli[i].app.received == srv_bytes);
    assert_true(srv[i].app.received == cli_bytes);
}

/* ------------------------------------------------------------------ */

static void test_one_stream_half_close(void **state)
{
    int err = 1;
    struct vx_transport_stats st;
    setup_pair(NULL, NULL);
    cli_bytes = 3u << 20;
    srv_bytes = 2u << 20;
    srv_half_close = 1; /* server answers only after the client's FIN */
    n_open = 1;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_int_equal(err, 0);
    assert_true(run_until(all_done, 10));
    check_stream_ok(0);
    assert_memory_equal(cli[0].peer_id, id_of(&B), VX_NODE_ID_LEN);
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.streams, 0);
    assert_true(st.bytes_out == cli_bytes);
    assert_true(st.bytes_in == srv_bytes);
    vx_transport_get_stats(B.t, &st);
    assert_true(st.bytes_in == cli_bytes);
    teardown_pair();
}

static int c0_opened(void)
{
    return cli[0].opened;
}

static void test_refused_reasons(void **state)
{
    static const int errs[] = {VX_ERR_REFUSED, VX_ERR_NOTFOUND, VX_ERR_DENIED};
    int err;
    setup_pair(NULL, NULL);
    acc_mode = ACC_REFUSE;
    for (size_t k = 0; k < 3; k++) {
        acc_err = errs[k];
        memset(&cli[0], 0, sizeof(cli[0]));
        cli[0].app.fd = -1;
        assert_non_null(open_idx(0, id_of(&B), &err));
        assert_true(run_until(c0_opened, 5));
        assert_int_equal(cli[0].open_err, errs[k]);
    }
    struct vx_transport_stats st;
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.sessions_total, 1); /* one session for all */
    assert_int_equal(st.streams, 0);

    /* The listener opens back over the same session (no address given,
     * even stream IDs); A accepts nothing, so the answer is REFUSED. */
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 7};
    strcpy(tgt.name, "back");
    memset(&cli[0], 0, sizeof(cli[0]));
    cli[0].app.fd = -1;
    assert_non_null(vx_transport_open(B.t, id_of(&A), NULL, 0, &tgt, &cli_cbs, &cli[0], &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_REFUSED);
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.sessions_total, 1);
    teardown_pair();
}

static int c0_closed(void)
{
    return cli[0].closed && cli[0].app.eof;
}

static void test_reset(void **state)
{
    int err;
    setup_pair(NULL, NULL);
    cli_bytes = 1u << 30; /* keeps sending until reset */
    srv_bytes = 0;
    acc_mode = ACC_CLOSE;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, 0);
    assert_non_null(srv[0].s);
    vx_stream_close(srv[0].s, VX_ERR_DENIED);
    assert_true(run_until(c0_closed, 5));
    assert_true(cli[0].close_err < 0);
    assert_false(srv[0].closed); /* no callback after vx_stream_close */
    struct vx_transport_stats st;
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.streams, 0);
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.streams, 0);
    teardown_pair();
}

static void test_wrong_peer_id(void **state)
{
    int err;
    uint8_t bogus[VX_NODE_ID_LEN];
    setup_pair(NULL, NULL);
    memset(bogus, 0x42, sizeof(bogus));
    assert_non_null(open_idx(0, bogus, &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_PEER_ID);
    struct vx_transport_stats st;
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.sessions, 0);
    assert_int_equal(st.handshakes_failed, 1);
    teardown_pair();
}

/* The handshake-failure hook: sessions a peer dialled that fail (garbage,
 * silence past the handshake timeout) are reported with the peer's address;
 * our own failed dials are not. */
static int hs_fail_calls, hs_fail_err, hs_fail_family;
static struct sockaddr_in hs_fail_addr;

static void hs_fail_cb(const struct sockaddr *sa, socklen_t salen, int err, void *arg)
{
    (void)arg;
    hs_fail_calls++;
    hs_fail_err = err;
    hs_fail_family = sa->sa_family;
    if (sa->sa_family == AF_INET && salen >= sizeof(hs_fail_addr))
        memcpy(&hs_fail_addr, sa, sizeof(hs_fail_addr));
}

static int hs_fail_1(void)
{
    return hs_fail_calls >= 1;
}

static int hs_fail_2(void)
{
    return hs_fail_calls >= 2;
}

static void test_handshake_fail_hook(void **state)
{
    struct vx_transport_conf c = test_conf();
    int err, fd;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789abcdef0123456789";

    c.handshake_timeout_ms = 300;
    setup_pair(&c, &c);
    hs_fail_calls = 0;
    vx_transport_set_handshake_fail(B.t, hs_fail_cb, NULL);
    vx_transport_set_handshake_fail(A.t, hs_fail_cb, NULL);

    /* garbage instead of a Noise message */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&b_addr, sizeof(b_addr)), 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    assert_true(run_until(hs_fail_1, 5));
    assert_int_equal(hs_fail_family, AF_INET);
    assert_int_equal(ntohl(hs_fail_addr.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_true(hs_fail_err < 0);
    close(fd);

    /* a silent client (slowloris) is dropped after the handshake timeout */
    uint64_t t0 = vx_time_mono_ms();
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&b_addr, sizeof(b_addr)), 0);
    assert_true(run_until(hs_fail_2, 5));
    assert_int_equal(hs_fail_err, VX_ERR_TIMEOUT);
    assert_true(vx_time_mono_ms() - t0 >= 250);
    assert_true(vx_time_mono_ms() - t0 < 2000);
    char b;
    assert_int_equal(read(fd, &b, 1), 0); /* closed by B */
    close(fd);

    /* our own dial that fails (wrong peer ID) is not reported */
    uint8_t bogus[VX_NODE_ID_LEN];
    memset(bogus, 0x42, sizeof(bogus));
    hs_fail_calls = 0;
    assert_non_null(open_idx(0, bogus, &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_PEER_ID);
    assert_int_equal(hs_fail_calls, 0);

    /* removing the hook */
    vx_transport_set_handshake_fail(B.t, NULL, NULL);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&b_addr, sizeof(b_addr)), 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    run_until(hs_fail_1, 0.6);
    assert_int_equal(hs_fail_calls, 0);
    close(fd);
    teardown_pair();
}

static void test_unreachable(void **state)
{
    int err;
    struct sockaddr_in sa = b_addr;
    setup_pair(NULL, NULL);
    /* a port nobody listens on: bind one, then close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 0};
    strcpy(tgt.name, "svc");
    uint64_t t0 = vx_time_mono_ms();
    assert_non_null(vx_transport_open(A.t, id_of(&B), (struct sockaddr *)&sa, sizeof(sa), &tgt,
                                      &cli_cbs, &cli[0], &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_UNREACH);
    assert_true(vx_time_mono_ms() - t0 < 1000);
    /* without an address and without a session: immediate failure */
    assert_null(vx_transport_open(A.t, id_of(&B), NULL, 0, &tgt, &cli_cbs, &cli[1], &err));
    assert_int_equal(err, VX_ERR_UNREACH);
    tgt.kind = 9;
    assert_null(vx_transport_open(A.t, id_of(&B), (struct sockaddr *)&sa, sizeof(sa), &tgt,
                                  &cli_cbs, &cli[1], &err));
    assert_int_equal(err, VX_ERR_INVAL);
    teardown_pair();
}

static void test_open_timeout(void **state)
{
    int err;
    struct vx_transport_conf c = test_conf();
    c.handshake_timeout_ms = 300;
    setup_pair(&c, &c);
    acc_mode = ACC_IGNORE;
    uint64_t t0 = vx_time_mono_ms();
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_TIMEOUT);
    assert_true(vx_time_mono_ms() - t0 < 1500);
    /* The acceptor's late answer is harmless. */
    assert_non_null(ignored_stream);
    run_until(c0_opened, 0.4); /* let the acceptor's own timer fire too */
    vx_stream_accept(ignored_stream, 0, &srv_cbs, &srv[0]);
    teardown_pair();
}

static int n_done_count(void)
{
    return all_done();
}

static void test_many_streams(void **state)
{
    int err;
    struct vx_transport_stats st;
    setup_pair(NULL, NULL);
    cli_bytes = 24 * 1024;
    srv_bytes = 40 * 1024;
    n_open = MAXS;
    for (uint32_t i = 0; i < MAXS; i++) {
        assert_non_null(open_idx(i, id_of(&B), &err));
        assert_int_equal(err, 0);
    }
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.streams, MAXS);
    assert_true(run_until(n_done_count, 20));
    for (uint32_t i = 0; i < MAXS; i++)
        check_stream_ok(i);
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.sessions_total, 1);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.streams_total, MAXS);
    assert_true(st.bytes_out == (uint64_t)MAXS * cli_bytes);
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.sessions_total, 1);
    assert_int_equal(st.streams, 0);
    teardown_pair();
}

static int never(void)
{
    return 0;
}

static void test_backpressure(void **state)
{
    int err;
    struct vx_transport_stats st;
    struct vx_transport_conf c = test_conf();
    c.stream_window = 256 * 1024;
    setup_pair(&c, &c);
    cli_bytes = 16u << 20;
    srv_bytes = 0;
    n_open = 1;
    srv_paused = 1; /* the server app does not read at first */
    assert_non_null(open_idx(0, id_of(&B), &err));
    run_until(never, 1.0);
    assert_true(srv[0].opened);
    /* The sender stalled: far less than 16 MiB went out, and the receiver
     * buffers at most one stream window. */
    vx_transport_get_stats(B.t, &st);
    assert_true(st.stream_mem > 0);
    assert_true(st.stream_mem <= c.stream_window + 16384);
    vx_transport_get_stats(A.t, &st);
    uint64_t out1 = st.bytes_out;
    assert_true(out1 < cli_bytes / 4);
    run_until(never, 0.3);
    vx_transport_get_stats(A.t, &st);
    assert_true(st.bytes_out == out1); /* credit withheld: nothing more sent */
    /* The app reads again: everything arrives intact. */
    srv[0].app.paused = 0;
    ev_io_start(loop, &srv[0].app.rw);
    assert_true(run_until(all_done, 10));
    check_stream_ok(0);
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.stream_mem, 0);
    teardown_pair();
}

/* ------------------------------------------------------------------ */
/* a relay between A and B that understands the framing of the A->B
 * direction: it can flip a bit in, or repeat, the Nth record, or drop
 * everything (a peer that stops responding). */

enum relay_mode { RELAY_PASS, RELAY_TAMPER, RELAY_REPLAY };

static struct relay {
    int lfd, cfd, sfd;
    ev_io lw, crw, srw;
    struct sockaddr_in addr;
    enum relay_mode mode;
    int target_rec; /* record index (A->B) to act on */
    int blackhole;
    uint8_t cbuf[4 * VX_REC_MAX_WIRE];
    size_t clen;
    int stage; /* 0 first handshake msg, 1 XX third msg, 2 records */
    int pattern;
    int nrec;
} R;

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            usleep(100);
            continue;
        }
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void relay_c_cb(struct ev_loop *l, ev_io *w, int revents)
{
    ssize_t n = read(R.cfd, R.cbuf + R.clen, sizeof(R.cbuf) - R.clen);
    if (n <= 0) {
        ev_io_stop(l, w);
        shutdown(R.sfd, SHUT_WR);
        return;
    }
    if (R.blackhole)
        return;
    R.clen += (size_t)n;
    for (;;) {
        size_t unit = 0, hdr;
        if (R.stage == 0) {
            hdr = 4;
            if (R.clen < hdr)
                break;
            R.pattern = R.cbuf[1];
            unit = hdr + vx_be16_get(R.cbuf + 2);
        } else if (R.stage == 1) {
            hdr = 2;
            if (R.clen < hdr)
                break;
            unit = hdr + vx_be16_get(R.cbuf);
        } else {
            hdr = 4;
            if (R.clen < hdr)
                break;
            unit = hdr + vx_be32_get(R.cbuf);
        }
        if (R.clen < unit)
            break;
        int dup = 0;
        if (R.stage == 2) {
            if (R.nrec == R.target_rec && R.mode == RELAY_TAMPER)
                R.cbuf[unit - 20] ^= 0x01;
            if (R.nrec == R.target_rec && R.mode == RELAY_REPLAY)
                dup = 1;
            R.nrec++;
        }
        write_all(R.sfd, R.cbuf, unit);
        if (dup)
            write_all(R.sfd, R.cbuf, unit);
        if (R.stage == 0)
            R.stage = R.pattern == VX_HS_XX ? 1 : 2;
        else if (R.stage == 1)
            R.stage = 2;
        memmove(R.cbuf, R.cbuf + unit, R.clen - unit);
        R.clen -= unit;
    }
}

static void relay_s_cb(struct ev_loop *l, ev_io *w, int revents)
{
    uint8_t buf[65536];
    ssize_t n = read(R.sfd, buf, sizeof(buf));
    if (n <= 0) {
        ev_io_stop(l, w);
        shutdown(R.cfd, SHUT_WR);
        return;
    }
    if (!R.blackhole)
        write_all(R.cfd, buf, (size_t)n);
}

static void relay_accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
    R.cfd = accept(R.lfd, NULL, NULL);
    assert_true(R.cfd >= 0);
    R.sfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(R.sfd, (struct sockaddr *)&b_addr, sizeof(b_addr)), 0);
    fcntl(R.cfd, F_SETFL, O_NONBLOCK);
    fcntl(R.sfd, F_SETFL, O_NONBLOCK);
    ev_io_init(&R.crw, relay_c_cb, R.cfd, EV_READ);
    ev_io_init(&R.srw, relay_s_cb, R.sfd, EV_READ);
    ev_io_start(l, &R.crw);
    ev_io_start(l, &R.srw);
    ev_io_stop(l, w);
}

static void relay_start(enum relay_mode mode, int target_rec)
{
    socklen_t sl = sizeof(R.addr);
    memset(&R, 0, sizeof(R));
    R.cfd = R.sfd = -1;
    R.mode = mode;
    R.target_rec = target_rec;
    R.lfd = socket(AF_INET, SOCK_STREAM, 0);
    R.addr.sin_family = AF_INET;
    R.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(R.lfd, (struct sockaddr *)&R.addr, sizeof(R.addr)), 0);
    assert_int_equal(listen(R.lfd, 4), 0);
    getsockname(R.lfd, (struct sockaddr *)&R.addr, &sl);
    ev_io_init(&R.lw, relay_accept_cb, R.lfd, EV_READ);
    ev_io_start(loop, &R.lw);
    dial_addr = &R.addr;
}

static void relay_stop(void)
{
    ev_io_stop(loop, &R.lw);
    ev_io_stop(loop, &R.crw);
    ev_io_stop(loop, &R.srw);
    close(R.lfd);
    if (R.cfd >= 0)
        close(R.cfd);
    if (R.sfd >= 0)
        close(R.sfd);
}

static int c0_closed_any(void)
{
    return cli[0].closed || (cli[0].opened && cli[0].open_err < 0);
}

static void bad_record(enum relay_mode mode)
{
    int err;
    struct vx_transport_stats st;
    setup_pair(NULL, NULL);
    cli_bytes = 8u << 20;
    srv_bytes = 0;
    relay_start(mode, 2); /* record 0 carries STREAM_OPEN; 2 is data */
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_closed_any, 10));
    assert_true(cli[0].close_err < 0);
    assert_true(srv[0].close_err < 0);
    assert_true(srv[0].app.received < cli_bytes);
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.sessions, 0);
    assert_int_equal(st.sessions_total, 1);
    relay_stop();
    teardown_pair();
}

static void test_tampered_record(void **state)
{
    bad_record(RELAY_TAMPER);
}

static void test_replayed_record(void **state)
{
    bad_record(RELAY_REPLAY);
}

static int c0_has_data(void)
{
    return srv[0].app.received > 0;
}

static void test_dead_peer(void **state)
{
    int err;
    struct vx_transport_conf c = test_conf();
    c.keepalive_ms = 100;
    c.dead_peer_ms = 500;
    setup_pair(&c, NULL);
    cli_bytes = 64u << 20;
    srv_bytes = 0;
    relay_start(RELAY_PASS, -1);
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_has_data, 5));
    R.blackhole = 1;
    uint64_t t0 = vx_time_mono_ms();
    assert_true(run_until(c0_closed_any, 5));
    uint64_t dt = vx_time_mono_ms() - t0;
    assert_int_equal(cli[0].close_err, VX_ERR_TIMEOUT);
    assert_true(dt >= 400 && dt < 1500);
    relay_stop();
    teardown_pair();
}

/* ------------------------------------------------------------------ */
/* keys, ciphers, rekeying, limits, shutdown */

struct cipher_seen {
    const char *cipher;
    int n;
};

static void visit(const struct vx_session_info *info, void *arg)
{
    struct cipher_seen *c = arg;
    c->cipher = info->cipher;
    c->n++;
}

static void test_learnt_key_uses_ik(void **state)
{
    int err;
    struct vx_tcp_counters ca, cb;
    struct vx_transport_conf c = test_conf();
    c.idle_session_ms = 100;
    setup_pair(&c, &c);
    assert_int_equal(vx_transport_learn_key(A.t, B.id.pk), 0);
    uint8_t bad[VX_PK_LEN];
    memset(bad, 0xff, sizeof(bad));
    assert_int_equal(vx_transport_learn_key(A.t, bad), VX_ERR_CRYPTO);
    acc_mode = ACC_REFUSE;
    acc_err = VX_ERR_NOTFOUND;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_NOTFOUND);
    vx_transport_tcp_counters(A.t, &ca);
    vx_transport_tcp_counters(B.t, &cb);
    assert_int_equal(ca.ik_handshakes, 1);
    assert_int_equal(ca.xx_handshakes, 0);
    assert_int_equal(cb.ik_handshakes, 1);
    teardown_pair();
}

static int no_sessions(void)
{
    struct vx_transport_stats a, b;
    vx_transport_get_stats(A.t, &a);
    vx_transport_get_stats(B.t, &b);
    return a.sessions == 0 && b.sessions == 0;
}

static void test_idle_teardown_then_ik(void **state)
{
    int err;
    struct vx_tcp_counters ca;
    struct vx_transport_conf c = test_conf();
    c.idle_session_ms = 150;
    setup_pair(&c, &c);
    acc_mode = ACC_REFUSE;
    acc_err = VX_ERR_REFUSED;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    /* the session goes away by itself once idle */
    assert_true(run_until(no_sessions, 3));
    memset(&cli[0], 0, sizeof(cli[0]));
    cli[0].app.fd = -1;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    assert_int_equal(cli[0].open_err, VX_ERR_REFUSED);
    vx_transport_tcp_counters(A.t, &ca);
    assert_int_equal(ca.xx_handshakes, 1); /* first dial: key unknown */
    assert_int_equal(ca.ik_handshakes, 1); /* second: learnt from the first */
    teardown_pair();
}

static void test_cipher_and_rekey(void **state)
{
    int err;
    struct vx_tcp_counters ca, cb;
    struct cipher_seen seen = {0};
    struct vx_transport_conf c = test_conf();
    c.rekey_bytes = 200 * 1024;
    setup_pair(&c, &c);
    assert_int_equal(vx_transport_tcp_set_aeads(A.t, 1u << VX_AEAD_CHACHAPOLY), 0);
    cli_bytes = 4u << 20;
    srv_bytes = 1u << 20;
    n_open = 1;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(all_done, 10));
    check_stream_ok(0);
    vx_transport_foreach_session(A.t, visit, &seen);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.cipher, vx_aead_name(VX_AEAD_CHACHAPOLY));
    vx_transport_tcp_counters(A.t, &ca);
    vx_transport_tcp_counters(B.t, &cb);
    assert_true(ca.rekeys_tx >= 15);
    assert_int_equal(ca.rekeys_tx, cb.rekeys_rx);
    assert_int_equal(cb.rekeys_tx, ca.rekeys_rx);
    assert_true(cb.rekeys_tx >= 3);
    teardown_pair();

    /* Both sides allowing AES-GCM pick it where the CPU has it. */
    setup_pair(NULL, NULL);
    acc_mode = ACC_REFUSE;
    acc_err = VX_ERR_REFUSED;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_opened, 5));
    seen.n = 0;
    vx_transport_foreach_session(B.t, visit, &seen);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.cipher, vx_aead_name(vx_aead_aesgcm_available() ? VX_AEAD_AESGCM
                                                                             : VX_AEAD_CHACHAPOLY));
    teardown_pair();
}

static void test_stream_limit(void **state)
{
    int err;
    struct vx_transport_conf cb = test_conf();
    cb.max_streams = 2;
    setup_pair(NULL, &cb);
    acc_mode = ACC_IGNORE;
    for (uint32_t i = 0; i < 3; i++)
        assert_non_null(open_idx(i, id_of(&B), &err));
    /* the third open is refused by the peer's limit */
    assert_true(run_until(c0_opened, 0.5) == 0);
    assert_true(cli[2].opened);
    assert_int_equal(cli[2].open_err, VX_ERR_LIMIT);
    /* now that the peer's limit is known, a fourth fails at once */
    assert_null(open_idx(3, id_of(&B), &err));
    assert_int_equal(err, VX_ERR_LIMIT);
    /* both refusals are counted: B refused one, A one locally */
    struct vx_transport_stats st;
    vx_transport_get_stats(B.t, &st);
    assert_int_equal(st.limit_streams, 1);
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.limit_streams, 1);
    teardown_pair();
}

static int c0_closed_cb(void)
{
    return cli[0].closed;
}

static void test_goaway_on_free(void **state)
{
    int err;
    setup_pair(NULL, NULL);
    cli_bytes = 1u << 30;
    srv_bytes = 0;
    assert_non_null(open_idx(0, id_of(&B), &err));
    assert_true(run_until(c0_has_data, 5));
    vx_transport_free(B.t);
    B.t = NULL;
    assert_true(run_until(c0_closed_cb, 3));
    assert_true(cli[0].close_err < 0);
    struct vx_transport_stats st;
    vx_transport_get_stats(A.t, &st);
    assert_int_equal(st.sessions, 0);
    /* new opens to that node fail in bounded time */
    memset(&cli[1], 0, sizeof(cli[1]));
    cli[1].app.fd = -1;
    teardown_pair();
}

int main(void)
{
    struct rlimit rl = {20000, 20000};
    setrlimit(RLIMIT_NOFILE, &rl);
    vx_log_configure(getenv("VX6_TEST_LOG") ? getenv("VX6_TEST_LOG") : "warn");
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_one_stream_half_close),
            cmocka_unit_test(test_refused_reasons),
            cmocka_unit_test(test_reset),
            cmocka_unit_test(test_wrong_peer_id),
            cmocka_unit_test(test_unreachable),
            cmocka_unit_test(test_open_timeout),
            cmocka_unit_test(test_many_streams),
            cmocka_unit_test(test_backpressure),
            cmocka_unit_test(test_tampered_record),
            cmocka_unit_test(test_replayed_record),
            cmocka_unit_test(test_dead_peer),
            cmocka_unit_test(test_learnt_key_uses_ik),
            cmocka_unit_test(test_idle_teardown_then_ik),
            cmocka_unit_test(test_cipher_and_rekey),
            cmocka_unit_test(test_stream_limit),
            cmocka_unit_test(test_goaway_on_free),
            cmocka_unit_test(test_handshake_fail_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
