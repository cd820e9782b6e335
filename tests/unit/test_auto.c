/* test_auto.c — the auto carrier (transport/auto.h) on one loop over
 * loopback: QUIC when it works, TCP when nothing answers on UDP (ICMP port
 * unreachable) or when the UDP path is blackholed (udp-dropper at 100 %
 * loss: fallback within the budget), the per-peer memory and its expiry,
 * hints, and streams accepted from both carriers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <ev.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/auto.h"
#include "transport/quic.h"
#include "transport/tcp.h"
#include "transport/transport.h"
#include "../tools/udp-dropper.h"

static struct ev_loop *loop;
static struct vx_identity ida, idb;

/* One stream: the opener writes `len` bytes then FIN, the acceptor counts
 * and answers FIN; both must end with on_close(0). */
struct xfer {
    struct vx_stream *c, *s;
    uint64_t len, got;
    int open_err, opened, c_closed, s_closed, c_err, s_err;
    enum vx_transport_kind c_carrier, s_carrier;
    uint64_t t0, t_open;
};
static struct xfer X;

static void maybe_done(void)
{
    if ((X.opened && X.open_err) || (X.c_closed && X.s_closed))
        ev_break(loop, EVBREAK_ALL);
}

static uint64_t sent;

static void c_push(void)
{
    static uint8_t buf[8192];
    memset(buf, 'a', sizeof(buf));
    while (sent < X.len) {
        size_t n = X.len - sent < sizeof(buf) ? (size_t)(X.len - sent) : sizeof(buf);
        ssize_t w = vx_stream_write(X.c, buf, n);
        if (w == VX_ERR_AGAIN)
            return;
        assert_true(w > 0);
        sent += (uint64_t)w;
    }
    assert_int_equal(vx_stream_shutdown(X.c), 0);
}

static size_t c_data(struct vx_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s, (void)d, (void)arg;
    return n;
}
static void c_fin(struct vx_stream *s, void *arg)
{
    (void)s, (void)arg;
}
static void c_writable(struct vx_stream *s, void *arg)
{
    (void)s, (void)arg;
    c_push();
}
static const struct vx_stream_io c_io = {c_data, c_fin, c_writable};

static size_t s_data(struct vx_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s, (void)arg;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(d[i], 'a');
    X.got += n;
    return n;
}
static void s_fin(struct vx_stream *s, void *arg)
{
    (void)arg;
    assert_int_equal(vx_stream_shutdown(s), 0);
}
static const struct vx_stream_io s_io = {s_data, s_fin, NULL};

static void c_close(struct vx_stream *s, int err, void *arg)
{
    (void)s, (void)arg;
    X.c_closed = 1;
    X.c_err = err;
    maybe_done();
}
static void s_close(struct vx_stream *s, int err, void *arg)
{
    (void)s, (void)arg;
    X.s_closed = 1;
    X.s_err = err;
    maybe_done();
}

static void c_open(struct vx_stream *s, int err, void *arg)
{
    (void)arg;
    X.opened = 1;
    X.open_err = err;
    X.t_open = vx_time_mono_ms();
    if (err) {
        maybe_done();
        return;
    }
    X.c_carrier = vx_stream_carrier(s);
    assert_int_equal(vx_stream_attach(s, &c_io, NULL), 0);
    c_push();
}
static const struct vx_stream_cbs c_cbs = {c_open, c_close};
static const struct vx_stream_cbs s_cbs = {NULL, s_close};

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    (void)tgt, (void)arg;
    X.s = s;
    X.s_carrier = vx_stream_carrier(s);
    vx_stream_accept(s, 0, &s_cbs, NULL);
    assert_int_equal(vx_stream_attach(s, &s_io, NULL), 0);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w, (void)revents;
    ev_break(l, EVBREAK_ALL);
}

/* Open a stream from `from` to idb at addr and move len bytes.  Returns the
 * milliseconds until on_open. */
static uint64_t xfer(struct vx_transport *from, const struct sockaddr_storage *addr,
                     socklen_t addrlen, uint64_t len)
{
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1};
    ev_timer guard;
    int err = 0;

    memset(&X, 0, sizeof(X));
    sent = 0;
    X.len = len;
    strcpy(tgt.name, "t");
    X.t0 = vx_time_mono_ms();
    X.c = vx_transport_open(from, idb.node_id, (const struct sockaddr *)addr, addrlen, &tgt, &c_cbs,
                            NULL, &err);
    assert_non_null(X.c);
    ev_timer_init(&guard, guard_cb, 15, 0);
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    assert_true(X.opened);
    assert_int_equal(X.open_err, 0);
    assert_true(X.c_closed && X.s_closed);
    assert_int_equal(X.c_err, 0);
    assert_int_equal(X.s_err, 0);
    assert_int_equal(X.got, len);
    return X.t_open - X.t0;
}

static void pause_ms(unsigned ms)
{
    ev_timer t;
    ev_timer_init(&t, guard_cb, ms / 1000., 0);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static int setup(void **state)
{
    uint8_t seed[VX_SEED_LEN];
    (void)state;
    loop = ev_default_loop(0);
    memset(seed, 0x31, sizeof(seed));
    vx_identity_from_seed(&ida, seed);
    memset(seed, 0x32, sizeof(seed));
    vx_identity_from_seed(&idb, seed);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vx_identity_wipe(&ida);
    vx_identity_wipe(&idb);
    return 0;
}

static struct sockaddr_in lo4(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/* auto <-> auto: QUIC both ways; streams accepted from either carrier. */
static void test_prefers_quic(void **state)
{
    struct vx_transport *a = vx_transport_new_for(VX_TRANSPORT_AUTO, loop, &ida, NULL);
    struct vx_transport *b = vx_transport_new_for(VX_TRANSPORT_AUTO, loop, &idb, NULL);
    struct sockaddr_in sin = lo4(0);
    struct sockaddr_storage ss, qs;
    socklen_t sl = sizeof(ss), ql = sizeof(qs);
    struct vx_auto_counters ca, cb;

    (void)state;
    assert_int_equal(vx_transport_kind(a), VX_TRANSPORT_AUTO);
    assert_int_equal(vx_transport_listen(b, (struct sockaddr *)&sin, sizeof(sin)), 0);
    /* a second port-0 listener could not share the port: refused */
    assert_int_equal(vx_transport_listen(b, (struct sockaddr *)&sin, sizeof(sin)), VX_ERR_INVAL);
    vx_transport_set_accept(b, accept_cb, NULL);
    assert_int_equal(vx_transport_local_addr(b, &ss, &sl), 0);
    /* TCP and UDP on the same port */
    assert_int_equal(
            vx_transport_quic_local_addr(vx_transport_auto_carrier(b, VX_TRANSPORT_QUIC), &qs, &ql),
            0);
    assert_int_equal(((struct sockaddr_in *)&qs)->sin_port, ((struct sockaddr_in *)&ss)->sin_port);

    xfer(a, &ss, sl, 300000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_QUIC);
    assert_int_equal(X.s_carrier, VX_TRANSPORT_QUIC);

    /* a pinned TCP carrier still reaches the auto listener */
    struct vx_transport *ta = vx_transport_auto_carrier(a, VX_TRANSPORT_TCP);
    assert_non_null(ta);
    xfer(ta, &ss, sl, 100000);
    assert_int_equal(X.s_carrier, VX_TRANSPORT_TCP);

    /* the acceptor learnt that a speaks QUIC, and reaches it that way */
    struct sockaddr_in sa = lo4(0);
    struct vx_identity tmp = ida;
    ida = idb;
    idb = tmp; /* xfer opens to idb: now a */
    vx_transport_set_accept(a, accept_cb, NULL);
    assert_int_equal(vx_transport_listen(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
    sl = sizeof(ss);
    assert_int_equal(vx_transport_local_addr(a, &ss, &sl), 0);
    xfer(b, &ss, sl, 1000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_QUIC);
    idb = ida;
    ida = tmp;

    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(vx_transport_auto_counters(b, &cb), 0);
    assert_int_equal(ca.quic_opens, 1);
    assert_int_equal(ca.fallbacks, 0);
    assert_int_equal(cb.quic_accepts, 1);
    assert_int_equal(cb.tcp_accepts, 1);
    assert_int_equal(vx_transport_auto_counters(ta, &ca), VX_ERR_INVAL);
    assert_int_equal(vx_transport_rebind(ta), 0);
    vx_transport_free(a);
    vx_transport_free(b);
}

/* The far node speaks TCP only: the kernel answers our UDP with ICMP port
 * unreachable and the fallback is immediate; the second open goes straight
 * to TCP. */
static void test_fallback_unreachable(void **state)
{
    struct vx_transport *a = vx_transport_auto_new(loop, &ida, NULL);
    struct vx_transport *b = vx_transport_new_for(VX_TRANSPORT_TCP, loop, &idb, NULL);
    struct sockaddr_in sin = lo4(0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct vx_auto_counters ca;
    uint64_t ms;

    (void)state;
    assert_int_equal(vx_transport_listen(b, (struct sockaddr *)&sin, sizeof(sin)), 0);
    vx_transport_set_accept(b, accept_cb, NULL);
    assert_int_equal(vx_transport_local_addr(b, &ss, &sl), 0);
    ms = xfer(a, &ss, sl, 200000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_TCP);
    assert_true(ms < VX_AUTO_QUIC_BUDGET_MS); /* no wait for the budget */
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 1);
    xfer(a, &ss, sl, 1000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_TCP);
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 1); /* remembered */
    assert_int_equal(ca.quic_opens, 1);
    assert_int_equal(ca.tcp_opens, 2);
    vx_transport_free(a);
    vx_transport_free(b);
}

/* UDP blackholed (every datagram dropped): TCP after the budget; the
 * verdict expires and a recovered path is used again. */
static void test_fallback_blackhole(void **state)
{
    struct vx_transport *a = vx_transport_auto_new(loop, &ida, NULL);
    struct vx_transport *bq = vx_transport_quic_new(loop, &idb, NULL);
    struct vx_transport *bt = vx_transport_tcp_new(loop, &idb, NULL);
    struct sockaddr_in sin = lo4(0);
    struct sockaddr_storage qs, ds;
    socklen_t ql = sizeof(qs), dl = sizeof(ds);
    struct udp_dropper *d;
    struct vx_auto_counters ca;
    uint64_t ms;

    (void)state;
    assert_int_equal(vx_transport_auto_set_policy(a, 800, 1500), 0);
    assert_int_equal(vx_transport_listen(bq, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(vx_transport_quic_local_addr(bq, &qs, &ql), 0);
    d = udp_dropper_new(loop, (struct sockaddr *)&qs, ql);
    assert_non_null(d);
    udp_dropper_set(d, 1.0, 0);
    /* the node's address: UDP at the dropper, TCP on the same port */
    udp_dropper_addr(d, &ds, &dl);
    assert_int_equal(vx_transport_listen(bt, (struct sockaddr *)&ds, dl), 0);
    vx_transport_set_accept(bq, accept_cb, NULL);
    vx_transport_set_accept(bt, accept_cb, NULL);

    ms = xfer(a, &ds, dl, 100000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_TCP);
    assert_true(ms >= 700 && ms < 800 + 700); /* the budget, plus the TCP handshake */
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 1);

    /* remembered: straight to TCP */
    ms = xfer(a, &ds, dl, 1000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_TCP);
    assert_true(ms < 500);
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 1);
    assert_int_equal(ca.quic_opens, 1);

    /* the UDP path recovers; once the verdict expires QUIC is used again */
    udp_dropper_set(d, 0, 0);
    pause_ms(1600);
    xfer(a, &ds, dl, 100000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_QUIC);
    assert_int_equal(X.s_carrier, VX_TRANSPORT_QUIC);
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 1);
    assert_int_equal(ca.quic_opens, 2);
    vx_transport_free(a);
    vx_transport_free(bq);
    vx_transport_free(bt);
    udp_dropper_free(d);
}

/* Hints from records: TCP-only peers are never tried over QUIC; a
 * QUIC-only peer never falls back. */
static void test_hints(void **state)
{
    struct vx_transport *a = vx_transport_auto_new(loop, &ida, NULL);
    struct vx_transport *b = vx_transport_tcp_new(loop, &idb, NULL);
    struct sockaddr_in sin = lo4(0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct vx_auto_counters ca;
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1, .name = "t"};
    ev_timer guard;
    int err = 0;

    (void)state;
    assert_int_equal(vx_transport_listen(b, (struct sockaddr *)&sin, sizeof(sin)), 0);
    vx_transport_set_accept(b, accept_cb, NULL);
    assert_int_equal(vx_transport_local_addr(b, &ss, &sl), 0);
    assert_int_equal(vx_transport_auto_hint(b, idb.node_id, VX_AUTO_HINT_TCP), VX_ERR_INVAL);
    assert_int_equal(vx_transport_auto_hint(a, idb.node_id, 4), VX_ERR_INVAL);

    assert_int_equal(vx_transport_auto_hint(a, idb.node_id, VX_AUTO_HINT_TCP), 0);
    xfer(a, &ss, sl, 1000);
    assert_int_equal(X.c_carrier, VX_TRANSPORT_TCP);
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.quic_opens, 0);
    assert_int_equal(ca.fallbacks, 0);

    /* QUIC only: the unreachable UDP port is the final answer */
    assert_int_equal(vx_transport_auto_hint(a, idb.node_id, VX_AUTO_HINT_QUIC), 0);
    memset(&X, 0, sizeof(X));
    X.c = vx_transport_open(a, idb.node_id, (struct sockaddr *)&ss, sl, &tgt, &c_cbs, NULL, &err);
    assert_non_null(X.c);
    ev_timer_init(&guard, guard_cb, 10, 0);
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    assert_true(X.opened);
    assert_int_equal(X.open_err, VX_ERR_UNREACH);
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 0);
    assert_int_equal(ca.tcp_opens, 1);
    vx_transport_free(a);
    vx_transport_free(b);
}

/* Closing the stream while QUIC is still trying: no callback, no fallback,
 * nothing leaks (run under valgrind / ASan). */
static void test_close_while_trying(void **state)
{
    struct vx_transport *a = vx_transport_auto_new(loop, &ida, NULL);
    struct sockaddr_in6 nowhere = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1, .name = "t"};
    struct vx_auto_counters ca;
    int err = 0;

    (void)state;
    /* 100::/64 is the discard prefix: nothing ever answers */
    inet_pton(AF_INET6, "100::1", &nowhere.sin6_addr);
    memset(&X, 0, sizeof(X));
    X.c = vx_transport_open(a, idb.node_id, (struct sockaddr *)&nowhere, sizeof(nowhere), &tgt,
                            &c_cbs, NULL, &err);
    if (!X.c) {
        /* no IPv6 route at all: the TCP attempt failed at once, also fine */
        assert_int_equal(err, VX_ERR_UNREACH);
    } else {
        pause_ms(100);
        vx_stream_close(X.c, VX_ERR_CLOSED);
        pause_ms(100);
        assert_false(X.opened);
    }
    assert_int_equal(vx_transport_auto_counters(a, &ca), 0);
    assert_int_equal(ca.fallbacks, 0);
    vx_transport_free(a);
}

int main(void)
{
    vx_log_set_level(VX_LOG_WARN);
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_prefers_quic, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fallback_unreachable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fallback_blackhole, setup, teardown),
            cmocka_unit_test_setup_teardown(test_hints, setup, teardown),
            cmocka_unit_test_setup_teardown(test_close_while_trying, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
