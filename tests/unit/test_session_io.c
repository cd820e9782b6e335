/* test_session_io.c — byte-level stream access (vx_stream_attach/write/
 * shutdown/read_resume) between two transports on one loop, once over TCP +
 * Noise and once over QUIC (every case runs on both carriers).
 *
 * The opener pushes a deterministic pattern with vx_stream_write() and
 * waits for on_writable whenever the window closes; the acceptor consumes
 * in odd-sized bites and sometimes refuses to consume at all, then resumes
 * from a timer.  Both directions are checked byte for byte, FIN is checked
 * to come after all data, and both ends must finish with on_close(0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <ev.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "transport/quic.h"
#include "transport/tcp.h"
#include "transport/transport.h"

static struct ev_loop *loop;

static uint8_t pat(uint32_t seed, uint64_t pos)
{
    uint64_t x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint8_t)(x >> 29);
}

struct end {
    struct vx_stream *s;
    uint32_t tx_seed, rx_seed;
    uint64_t to_send, sent, received;
    int again;    /* writes answered VX_ERR_AGAIN */
    int writable; /* on_writable calls */
    int fin, closed, close_err, bad, fin_early;
    int stingy; /* consume little, pause often */
    uint64_t expect;
    unsigned bite;
    int paused_now;
    ev_timer resume;
};

static struct end cli, srv;
static int delay_attach;
static int use_quic; /* carrier of the current case */
static ev_timer attach_timer;

static void end_push(struct end *e)
{
    uint8_t buf[20000];
    while (e->sent < e->to_send) {
        size_t n = sizeof(buf);
        if (n > e->to_send - e->sent)
            n = (size_t)(e->to_send - e->sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(e->tx_seed, e->sent + i);
        ssize_t w = vx_stream_write(e->s, buf, n);
        if (w == VX_ERR_AGAIN) {
            e->again++;
            return;
        }
        assert_true(w > 0);
        e->sent += (uint64_t)w;
        if ((size_t)w < n)
            return; /* on_writable comes */
    }
    assert_int_equal(vx_stream_shutdown(e->s), 0);
    /* a second shutdown is harmless, writing after it is not allowed */
    assert_int_equal(vx_stream_shutdown(e->s), 0);
    assert_int_equal(vx_stream_write(e->s, (const uint8_t *)"x", 1), VX_ERR_CLOSED);
}

static void resume_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    struct end *e = w->data;
    e->paused_now = 0;
    vx_stream_read_resume(e->s);
}

static size_t on_data(struct vx_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct end *e = arg;
    assert_false(e->paused_now); /* no delivery while paused */
    if (e->fin)
        e->fin_early = 1;
    size_t take = n;
    if (e->stingy) {
        e->bite = e->bite * 1103515245u + 12345u;
        unsigned r = (e->bite >> 16) % 4;
        if (r == 0)
            take = 0;
        else if (r == 1 && n > 1)
            take = n / 3;
        if (take < n) {
            e->paused_now = 1;
            ev_timer_set(&e->resume, 0.001, 0);
            ev_timer_start(loop, &e->resume);
        }
    }
    for (size_t i = 0; i < take; i++)
        if (d[i] != pat(e->rx_seed, e->received + i))
            e->bad = 1;
    e->received += take;
    return take;
}

static void on_fin(struct vx_stream *s, void *arg)
{
    struct end *e = arg;
    assert_int_equal(e->received, e->expect);
    e->fin = 1;
}

static void on_writable(struct vx_stream *s, void *arg)
{
    struct end *e = arg;
    e->writable++;
    end_push(e);
}

static const struct vx_stream_io io = {on_data, on_fin, on_writable};

static void on_close(struct vx_stream *s, int err, void *arg)
{
    struct end *e = arg;
    e->closed = 1;
    e->close_err = err;
    e->s = NULL;
    ev_timer_stop(loop, &e->resume);
    if (cli.closed && srv.closed)
        ev_break(loop, EVBREAK_ALL);
}

static void cli_on_open(struct vx_stream *s, int err, void *arg)
{
    assert_int_equal(err, 0);
    assert_int_equal(vx_stream_attach(s, &io, &cli), 0);
    assert_int_equal(vx_stream_attach(s, &io, &cli), VX_ERR_INVAL); /* once */
    assert_int_equal(vx_stream_splice(s, -1), VX_ERR_INVAL);
    end_push(&cli);
}

static const struct vx_stream_cbs cli_cbs = {.on_open = cli_on_open, .on_close = on_close};
static const struct vx_stream_cbs srv_cbs = {.on_close = on_close};

static void srv_start(void)
{
    assert_int_equal(vx_stream_attach(srv.s, &io, &srv), 0);
    end_push(&srv);
}

static void attach_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    srv_start();
}

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    assert_int_equal(tgt->kind, VX_TARGET_RELAY);
    srv.s = s;
    vx_stream_accept(s, 0, &srv_cbs, &srv);
    /* writing before attach is refused */
    assert_int_equal(vx_stream_write(s, (const uint8_t *)"x", 1), VX_ERR_INVAL);
    if (delay_attach) {
        /* let the client's data pile up in the stream before attaching */
        ev_timer_init(&attach_timer, attach_cb, 0.2, 0);
        ev_timer_start(loop, &attach_timer);
    } else {
        srv_start();
    }
}

static void fail_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static void run(uint64_t c2s, uint64_t s2c, int stingy, uint32_t window)
{
    struct vx_identity ia, ib;
    uint8_t seed[VX_SEED_LEN];
    struct vx_transport_conf c;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_storage ss;
    socklen_t sl;
    int err;
    ev_timer guard;

    loop = ev_default_loop(0);
    vx_transport_conf_defaults(&c);
    c.stream_window = window;
    c.session_window = window * 4;
    memset(seed, 1, sizeof(seed));
    vx_identity_from_seed(&ia, seed);
    memset(seed, 2, sizeof(seed));
    vx_identity_from_seed(&ib, seed);
    struct vx_transport *ta =
            use_quic ? vx_transport_quic_new(loop, &ia, &c) : vx_transport_tcp_new(loop, &ia, &c);
    struct vx_transport *tb =
            use_quic ? vx_transport_quic_new(loop, &ib, &c) : vx_transport_tcp_new(loop, &ib, &c);
    assert_int_equal(vx_transport_listen(tb, (struct sockaddr *)&sin, sizeof(sin)), 0);
    if (use_quic)
        assert_int_equal(vx_transport_quic_local_addr(tb, &ss, &sl), 0);
    else
        assert_int_equal(vx_transport_tcp_local_addr(tb, &ss, &sl), 0);
    vx_transport_set_accept(tb, accept_cb, NULL);

    memset(&cli, 0, sizeof(cli));
    memset(&srv, 0, sizeof(srv));
    cli.tx_seed = srv.rx_seed = 7;
    srv.tx_seed = cli.rx_seed = 9;
    cli.to_send = srv.expect = c2s;
    srv.to_send = cli.expect = s2c;
    srv.stingy = stingy;
    srv.bite = 12345;
    ev_timer_init(&cli.resume, resume_cb, 0, 0);
    ev_timer_init(&srv.resume, resume_cb, 0, 0);
    cli.resume.data = &cli;
    srv.resume.data = &srv;

    struct vx_stream_target tgt = {.kind = VX_TARGET_RELAY};
    cli.s = vx_transport_open(ta, ib.node_id, (struct sockaddr *)&ss, sl, &tgt, &cli_cbs, &cli,
                              &err);
    assert_non_null(cli.s);
    ev_timer_init(&guard, fail_cb, 20, 0);
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    ev_timer_stop(loop, &attach_timer);

    assert_true(cli.closed && srv.closed);
    assert_int_equal(cli.close_err, 0);
    assert_int_equal(srv.close_err, 0);
    assert_int_equal(srv.received, c2s);
    assert_int_equal(cli.received, s2c);
    assert_false(srv.bad || cli.bad);
    assert_true(srv.fin && cli.fin);
    assert_false(srv.fin_early || cli.fin_early);
    if (c2s > 4 * (uint64_t)window) /* the window closed at least once */
        assert_true(cli.again + cli.writable > 0);
    vx_transport_free(ta);
    vx_transport_free(tb);
    vx_identity_wipe(&ia);
    vx_identity_wipe(&ib);
}

static void test_small_both_ways(void **state)
{
    delay_attach = 0;
    run(1, 5, 0, 1024 * 1024);
}

static void test_bulk_with_backpressure(void **state)
{
    delay_attach = 0;
    run(8u << 20, 3u << 20, 0, 65536);
}

static void test_stingy_reader(void **state)
{
    /* the reader consumes short and pauses; its window must hold the sender */
    delay_attach = 0;
    run(2u << 20, 100000, 1, 16384);
    assert_true(cli.again + cli.writable > 0);
}

static void test_data_before_attach(void **state)
{
    delay_attach = 1;
    run(40000, 40000, 0, 1024 * 1024);
}

static void test_empty_streams(void **state)
{
    delay_attach = 0;
    run(0, 0, 0, 65536);
}

#define BOTH(name)                                                                                 \
    static void name##_tcp(void **state)                                                           \
    {                                                                                              \
        use_quic = 0;                                                                              \
        name(state);                                                                               \
    }                                                                                              \
    static void name##_quic(void **state)                                                          \
    {                                                                                              \
        use_quic = 1;                                                                              \
        name(state);                                                                               \
    }
BOTH(test_small_both_ways)
BOTH(test_bulk_with_backpressure)
BOTH(test_stingy_reader)
BOTH(test_data_before_attach)
BOTH(test_empty_streams)

int main(void)
{
    vx_log_set_level(VX_LOG_WARN);
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_small_both_ways_tcp),
            cmocka_unit_test(test_bulk_with_backpressure_tcp),
            cmocka_unit_test(test_stingy_reader_tcp),
            cmocka_unit_test(test_data_before_attach_tcp),
            cmocka_unit_test(test_empty_streams_tcp),
            cmocka_unit_test(test_small_both_ways_quic),
            cmocka_unit_test(test_bulk_with_backpressure_quic),
            cmocka_unit_test(test_stingy_reader_quic),
            cmocka_unit_test(test_data_before_attach_quic),
            cmocka_unit_test(test_empty_streams_quic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
