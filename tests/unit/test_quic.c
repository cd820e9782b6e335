/* test_quic.c — the QUIC transport: two transports on one libev loop over
 * loopback (optionally through a lossy user-space UDP forwarder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tools/udp-dropper.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/quic.h"

#define MAX_TS 600

/* setup_slow_idle: sessions that would take 30 s to notice silence */
static int slow_idle;

struct ctx;

/* One application end of a stream: drives the socketpair end that is not
 * spliced.  Sends tx_total bytes of a seeded pattern (after the peer's EOF if
 * send_after_eof), then shuts down; checks every byte it receives. */
struct pump {
    struct ev_loop *loop;
    int fd;
    ev_io rio, wio;
    uint64_t tx_total, tx_done, rx_done, rx_expect;
    uint64_t tx_seed, rx_seed;
    int send_after_eof, rx_eof, rx_bad, tx_shut;
};

struct tstream {
    struct ctx *x;
    struct vx_stream *s;
    struct pump p;
    int opened, open_err, closed, close_err, active;
    uint8_t peer[VX_NODE_ID_LEN];
};

struct ctx {
    struct ev_loop *loop;
    struct vx_identity ida, idb;
    struct vx_transport *a, *b; /* a listens, b dials */
    struct vx_transport_conf conf;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct udp_dropper *drop;
    int accept_status;
    uint64_t srv_send, cli_send;
    int srv_after_eof, cli_after_eof;
    struct tstream ts[MAX_TS];
    int nts;
    struct tstream *acc[MAX_TS];
    int nacc;
    struct vx_stream_target last_tgt;
};

static uint8_t pattern(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i >> 3) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint8_t)(z >> ((i & 7) * 8));
}

static void pump_update(struct pump *p);

static void pump_tx_maybe_shut(struct pump *p)
{
    if (p->tx_done == p->tx_total && !p->tx_shut) {
        shutdown(p->fd, SHUT_WR);
        p->tx_shut = 1;
    }
}

static void pump_wcb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pump *p = w->data;
    uint8_t buf[65536];
    size_t n = sizeof(buf);
    ssize_t r;

    (void)loop;
    (void)revents;
    if (p->tx_total - p->tx_done < n)
        n = p->tx_total - p->tx_done;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(p->tx_seed, p->tx_done + i);
    r = n ? write(p->fd, buf, n) : 0;
    if (r > 0)
        p->tx_done += (uint64_t)r;
    pump_tx_maybe_shut(p);
    pump_update(p);
}

static void pump_rcb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pump *p = w->data;
    uint8_t buf[65536];
    ssize_t r;

    (void)loop;
    (void)revents;
    r = read(p->fd, buf, sizeof(buf));
    if (r > 0) {
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(p->rx_seed, p->rx_done + (uint64_t)i))
                p->rx_bad = 1;
        p->rx_done += (uint64_t)r;
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        p->rx_eof = 1;
    }
    pump_update(p);
}

static void pump_update(struct pump *p)
{
    int tx = !p->tx_shut && (!p->send_after_eof || p->rx_eof);

    if (tx && p->tx_done == p->tx_total) {
        pump_tx_maybe_shut(p);
        tx = 0;
    }
    if (tx && !ev_is_active(&p->wio))
        ev_io_start(p->loop, &p->wio);
    if (!tx && ev_is_active(&p->wio))
        ev_io_stop(p->loop, &p->wio);
    if (p->rx_eof && ev_is_active(&p->rio))
        ev_io_stop(p->loop, &p->rio);
}

/* Splice a socketpair into s and drive the other end. */
static void pump_start(struct tstream *t, uint64_t tx, uint64_t tx_seed, uint64_t rx_seed,
                       int after_eof)
{
    int sp[2];
    struct pump *p = &t->p;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    p->loop = t->x->loop;
    p->fd = sp[0];
    p->tx_total = tx;
    p->tx_seed = tx_seed;
    p->rx_seed = rx_seed;
    p->send_after_eof = after_eof;
    ev_io_init(&p->rio, pump_rcb, p->fd, EV_READ);
    ev_io_init(&p->wio, pump_wcb, p->fd, EV_WRITE);
    p->rio.data = p->wio.data = p;
    ev_io_start(p->loop, &p->rio);
    pump_update(p);
    assert_int_equal(vx_stream_splice(t->s, sp[1]), 0);
    t->active = 1;
}

static void pump_stop(struct pump *p)
{
    if (!p->loop)
        return;
    ev_io_stop(p->loop, &p->rio);
    ev_io_stop(p->loop, &p->wio);
    close(p->fd);
    p->loop = NULL;
}

static void on_close(struct vx_stream *s, int err, void *arg)
{
    struct tstream *t = arg;
    (void)s;
    t->closed = 1;
    t->close_err = err;
}

static void on_open(struct vx_stream *s, int err, void *arg)
{
    struct tstream *t = arg;
    t->opened = 1;
    t->open_err = err;
    if (err == 0) {
        memcpy(t->peer, vx_stream_peer_id(s), VX_NODE_ID_LEN);
        pump_start(t, t->x->cli_send, 1, 2, t->x->cli_after_eof);
    }
}

static const struct vx_stream_cbs cbs = {on_open, on_close};

static void on_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    struct ctx *x = arg;
    struct tstream *t;

    x->last_tgt = *tgt;
    if (x->accept_status) {
        vx_stream_accept(s, x->accept_status, NULL, NULL);
        return;
    }
    assert_true(x->nts < MAX_TS);
    t = &x->ts[x->nts++];
    t->x = x;
    t->s = s;
    memcpy(t->peer, vx_stream_peer_id(s), VX_NODE_ID_LEN);
    x->acc[x->nacc++] = t;
    vx_stream_accept(s, 0, &cbs, t);
    pump_start(t, x->srv_send, 2, 1, x->srv_after_eof);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

typedef int (*cond_fn)(struct ctx *x);

/* Run the loop until cond holds; returns the seconds it took, or -1. */
static double run_until(struct ctx *x, cond_fn cond, double timeout)
{
    ev_timer tick;
    uint64_t t0 = vx_time_mono_ms();
    double r = -1;

    ev_timer_init(&tick, tick_cb, 0.02, 0.02);
    ev_timer_start(x->loop, &tick);
    while ((vx_time_mono_ms() - t0) / 1000.0 < timeout) {
        if (cond(x)) {
            r = (vx_time_mono_ms() - t0) / 1000.0;
            break;
        }
        ev_run(x->loop, EVRUN_ONCE);
    }
    ev_timer_stop(x->loop, &tick);
    return r;
}

static void loopback(struct sockaddr_storage *ss, socklen_t *len, int v6)
{
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*s4);
    }
}

static int setup(void **state)
{
    struct ctx *x = calloc(1, sizeof(*x));
    uint8_t seed[VX_SEED_LEN];
    struct sockaddr_storage ss;
    socklen_t len;

    if (getenv("VX6_TEST_DEBUG"))
        vx_log_configure("debug");
    else
        vx_log_configure("warn");
    x->loop = ev_loop_new(EVFLAG_AUTO);
    memset(seed, 0xa1, sizeof(seed));
    vx_identity_from_seed(&x->ida, seed);
    memset(seed, 0xb2, sizeof(seed));
    vx_identity_from_seed(&x->idb, seed);
    vx_transport_conf_defaults(&x->conf);
    x->conf.handshake_timeout_ms = 3000;
    x->conf.keepalive_ms = slow_idle ? 10000 : 500;
    x->conf.dead_peer_ms = slow_idle ? 30000 : 2000;
    x->a = vx_transport_quic_new(x->loop, &x->ida, &x->conf);
    x->b = vx_transport_quic_new(x->loop, &x->idb, &x->conf);
    vx_transport_set_accept(x->a, on_accept, x);
    /* Dual-stack listener on [::]:0; clients dial IPv4 loopback. */
    loopback(&ss, &len, 1);
    ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
    assert_int_equal(vx_transport_listen(x->a, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(vx_transport_quic_local_addr(x->a, &ss, &len), 0);
    loopback(&x->addr, &x->addrlen, 0);
    ((struct sockaddr_in *)&x->addr)->sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
    x->srv_send = 1000;
    x->cli_send = 1000;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *x = *state;

    for (int i = 0; i < x->nts; i++)
        pump_stop(&x->ts[i].p);
    vx_transport_free(x->a);
    vx_transport_free(x->b);
    udp_dropper_free(x->drop);
    ev_loop_destroy(x->loop);
    free(x);
    return 0;
}

static struct tstream *open_one(struct ctx *x, const uint8_t *peer, int via_drop)
{
    struct tstream *t = &x->ts[x->nts++];
    struct vx_stream_target tgt;
    struct sockaddr_storage ss;
    socklen_t len;
    int err = 0;

    memset(&tgt, 0, sizeof(tgt));
    tgt.kind = VX_TARGET_SERVICE;
    tgt.port = 80;
    strcpy(tgt.name, "web");
    tgt.data_len = 3;
    memcpy(tgt.data, "abc", 3);
    t->x = x;
    if (via_drop) {
        udp_dropper_addr(x->drop, &ss, &len);
    } else {
        ss = x->addr;
        len = x->addrlen;
    }
    t->s = vx_transport_open(x->b, peer, (struct sockaddr *)&ss, len, &tgt, &cbs, t, &err);
    assert_non_null(t->s);
    return t;
}

static int all_done(struct ctx *x)
{
    for (int i = 0; i < x->nts; i++) {
        struct tstream *t = &x->ts[i];
        if (t->opened && t->open_err)
            continue;
        if (!t->closed || !t->p.rx_eof)
            return 0;
    }
    return x->nts > 0 && x->nacc * 2 >= x->nts;
}

static void check_done(struct ctx *x)
{
    for (int i = 0; i < x->nts; i++) {
        struct tstream *t = &x->ts[i];
        assert_int_equal(t->close_err, 0);
        assert_false(t->p.rx_bad);
        assert_int_equal(t->p.tx_done, t->p.tx_total);
        assert_true(t->p.rx_eof);
    }
}

static void test_transfer_both_ways(void **state)
{
    struct ctx *x = *state;
    struct tstream *t;
    struct vx_transport_stats st;
    double secs;

    x->cli_send = 6 << 20;
    x->srv_send = 5 << 20;
    t = open_one(x, x->ida.node_id, 0);
    secs = run_until(x, all_done, 30);
    assert_true(secs >= 0);
    check_done(x);
    assert_int_equal(t->p.rx_done, x->srv_send);
    assert_int_equal(x->acc[0]->p.rx_done, x->cli_send);
    assert_memory_equal(t->peer, x->ida.node_id, VX_NODE_ID_LEN);
    assert_memory_equal(x->acc[0]->peer, x->idb.node_id, VX_NODE_ID_LEN);
    assert_int_equal(x->last_tgt.port, 80);
    assert_string_equal(x->last_tgt.name, "web");
    assert_int_equal(x->last_tgt.data_len, 3);
    vx_transport_get_stats(x->b, &st);
    assert_int_equal(st.sessions, 1);
    assert_true(st.bytes_in >= x->srv_send);
    printf("# 11 MiB both ways in %.2f s\n", secs);
}

static int first_opened(struct ctx *x)
{
    return x->ts[0].opened;
}

static void test_wrong_peer_id(void **state)
{
    struct ctx *x = *state;
    uint8_t bogus[VX_NODE_ID_LEN];
    struct tstream *t;
    struct vx_transport_stats st;

    memset(bogus, 0x55, sizeof(bogus));
    t = open_one(x, bogus, 0);
    assert_true(run_until(x, first_opened, 5) >= 0);
    assert_int_equal(t->open_err, VX_ERR_PEER_ID);
    assert_int_equal(x->nacc, 0);
    vx_transport_get_stats(x->b, &st);
    assert_int_equal(st.handshakes_failed, 1);
    assert_int_equal(st.sessions, 0);
}

static void test_direct_mode_learns_id(void **state)
{
    struct ctx *x = *state;
    struct tstream *t = open_one(x, NULL, 0);

    assert_true(run_until(x, all_done, 10) >= 0);
    check_done(x);
    assert_memory_equal(t->peer, x->ida.node_id, VX_NODE_ID_LEN);
}

static void test_half_close_server_first(void **state)
{
    struct ctx *x = *state;

    /* The server answers only after the client's EOF: data flows after a FIN. */
    x->cli_send = 100000;
    x->srv_send = 700000;
    x->srv_after_eof = 1;
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, all_done, 10) >= 0);
    check_done(x);
    assert_int_equal(x->ts[0].p.rx_done, 700000);
}

static void test_half_close_client_first(void **state)
{
    struct ctx *x = *state;

    x->cli_send = 900000;
    x->srv_send = 10;
    x->cli_after_eof = 1;
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, all_done, 10) >= 0);
    check_done(x);
    assert_int_equal(x->acc[0]->p.rx_done, 900000);
}

static void test_refused_reasons(void **state)
{
    struct ctx *x = *state;
    const int reasons[] = {VX_ERR_NOTFOUND, VX_ERR_DENIED, VX_ERR_LIMIT};

    for (size_t i = 0; i < 3; i++) {
        struct tstream *t;
        x->accept_status = reasons[i];
        x->nts = 0;
        memset(x->ts, 0, sizeof(x->ts[0]));
        t = open_one(x, x->ida.node_id, 0);
        assert_true(run_until(x, first_opened, 5) >= 0);
        assert_int_equal(t->open_err, reasons[i]);
    }
    /* No accept callback at all: refused. */
    vx_transport_set_accept(x->a, NULL, NULL);
    x->nts = 0;
    memset(x->ts, 0, sizeof(x->ts[0]));
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, first_opened, 5) >= 0);
    assert_int_equal(x->ts[0].open_err, VX_ERR_REFUSED);
}

static int acc_and_open(struct ctx *x)
{
    return x->nacc == 1 && x->ts[0].opened;
}

static int first_closed(struct ctx *x)
{
    return x->ts[0].closed;
}

static int acc_closed(struct ctx *x)
{
    return x->acc[0]->closed;
}

static void test_reset_both_ways(void **state)
{
    struct ctx *x = *state;
    struct tstream *t;

    /* Acceptor resets: the opener sees the reason. */
    x->cli_send = x->srv_send = 0;
    x->cli_after_eof = x->srv_after_eof = 1; /* keep the streams open */
    t = open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, acc_and_open, 5) >= 0);
    vx_stream_close(x->acc[0]->s, VX_ERR_DENIED);
    x->acc[0]->closed = 1;
    assert_true(run_until(x, first_closed, 5) >= 0);
    assert_int_equal(t->close_err, VX_ERR_DENIED);

    /* Opener resets: the acceptor sees the reason. */
    pump_stop(&x->ts[0].p);
    pump_stop(&x->ts[1].p);
    memset(x->ts, 0, 2 * sizeof(x->ts[0]));
    x->nts = 0;
    x->nacc = 0;
    t = open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, acc_and_open, 5) >= 0);
    vx_stream_close(t->s, VX_ERR_LIMIT);
    t->closed = 1;
    assert_true(run_until(x, acc_closed, 5) >= 0);
    assert_int_equal(x->acc[0]->close_err, VX_ERR_LIMIT);
}

static void test_many_streams(void **state)
{
    struct ctx *x = *state;
    struct vx_transport_stats st;
    double secs;

    x->cli_send = 40000;
    x->srv_send = 60000;
    for (int i = 0; i < 250; i++)
        open_one(x, x->ida.node_id, 0);
    secs = run_until(x, all_done, 30);
    assert_true(secs >= 0);
    check_done(x);
    assert_int_equal(x->nacc, 250);
    vx_transport_get_stats(x->b, &st);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.streams, 0);
    printf("# 250 concurrent streams in %.2f s\n", secs);
}

static int acc_open_pumping(struct ctx *x)
{
    return x->nacc == 1 && x->ts[0].opened && x->acc[0]->p.rx_done > 0;
}

static int both_closed(struct ctx *x)
{
    return x->ts[0].closed && x->nacc == 1 && x->acc[0]->closed;
}

static void test_dead_peer(void **state)
{
    struct ctx *x = *state;
    double secs;

    x->drop = udp_dropper_new(x->loop, (struct sockaddr *)&x->addr, x->addrlen);
    assert_non_null(x->drop);
    x->cli_send = 1000;
    x->srv_send = 0;
    x->srv_after_eof = 1; /* never finishes on its own */
    x->cli_after_eof = 0;
    open_one(x, x->ida.node_id, 1);
    assert_true(run_until(x, acc_open_pumping, 5) >= 0);
    udp_dropper_set(x->drop, 1.0, 0); /* the link dies */
    secs = run_until(x, both_closed, 10);
    assert_true(secs >= 0);
    assert_int_equal(x->ts[0].close_err, VX_ERR_TIMEOUT);
    assert_int_equal(x->acc[0]->close_err, VX_ERR_TIMEOUT);
    /* dead_peer_ms is 2 s. */
    assert_true(secs < 4.0);
    printf("# dead peer noticed after %.2f s\n", secs);
}

static void test_graceful_close(void **state)
{
    struct ctx *x = *state;
    double secs;

    x->cli_send = 1000;
    x->srv_send = 0;
    x->srv_after_eof = 1;
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, acc_open_pumping, 5) >= 0);
    pump_stop(&x->acc[0]->p);
    vx_transport_free(x->a); /* sends CONNECTION_CLOSE */
    x->a = NULL;
    x->acc[0]->closed = 1;
    secs = run_until(x, both_closed, 5);
    assert_true(secs >= 0 && secs < 1.0);
    assert_int_equal(x->ts[0].close_err, VX_ERR_CLOSED);
}

struct portcheck {
    uint16_t port;
};

static void visit_port(const struct vx_session_info *info, void *arg)
{
    struct portcheck *pc = arg;
    const struct sockaddr *sa = (const struct sockaddr *)&info->addr;
    pc->port = sa->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                                         : ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static int mid_transfer(struct ctx *x)
{
    return x->nacc == 1 && x->acc[0]->p.rx_done > (2 << 20) && x->ts[0].p.rx_done > (1 << 20);
}

static void test_migration(void **state)
{
    struct ctx *x = *state;
    struct portcheck before = {0}, after = {0};

    x->cli_send = 12 << 20;
    x->srv_send = 6 << 20;
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, mid_transfer, 20) >= 0);
    vx_transport_foreach_session(x->a, visit_port, &before);
    assert_true(x->acc[0]->p.rx_done < x->cli_send);
    assert_int_equal(vx_transport_quic_rebind(x->b), 1);
    assert_true(run_until(x, all_done, 30) >= 0);
    check_done(x);
    vx_transport_foreach_session(x->a, visit_port, &after);
    assert_int_not_equal(before.port, 0);
    assert_int_not_equal(after.port, before.port); /* the server saw the new path */
}

static void test_lossy_link(void **state)
{
    struct ctx *x = *state;
    struct udp_dropper_stats ds;
    double secs;

    x->drop = udp_dropper_new(x->loop, (struct sockaddr *)&x->addr, x->addrlen);
    assert_non_null(x->drop);
    udp_dropper_set(x->drop, 0.05, 5);
    x->cli_send = 1 << 20;
    x->srv_send = 1 << 20;
    open_one(x, x->ida.node_id, 1);
    secs = run_until(x, all_done, 60);
    assert_true(secs >= 0);
    check_done(x);
    udp_dropper_stats(x->drop, &ds);
    assert_true(ds.dropped > 0);
    printf("# 1+1 MiB over 5%% loss, 5 ms delay: %.2f s, %llu of %llu datagrams dropped\n", secs,
           (unsigned long long)ds.dropped, (unsigned long long)(ds.dropped + ds.forwarded));
}

static void test_version_negotiation(void **state)
{
    struct ctx *x = *state;
    uint8_t pkt[1200], reply[512];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {2, 0};
    ssize_t n = -1;

    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0xc0;
    pkt[1] = 0x1a; /* version 0x1a2a3a4a: reserved, not supported */
    pkt[2] = 0x2a;
    pkt[3] = 0x3a;
    pkt[4] = 0x4a;
    pkt[5] = 8; /* dcid len */
    memset(pkt + 6, 0x11, 8);
    pkt[14] = 8; /* scid len */
    memset(pkt + 15, 0x22, 8);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&x->addr, x->addrlen),
                     sizeof(pkt));
    for (int i = 0; i < 100 && n < 0; i++) {
        ev_run(x->loop, EVRUN_NOWAIT);
        n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
        if (n < 0)
            usleep(10000);
    }
    close(fd);
    assert_true(n >= 7);
    assert_true(reply[0] & 0x80);
    assert_memory_equal(reply + 1, "\0\0\0\0", 4); /* version 0: a VN packet */
    assert_int_equal(reply[5], 8);                 /* dcid = our scid */
    assert_memory_equal(reply + 6, pkt + 15, 8);
}

/* A datagram without the QUIC fixed bit goes to the foreign hook (the DHT
 * shares the node port); replies sent from vx_transport_quic_udp_fd() come
 * from the node port; QUIC keeps working beside it. */
struct foreign_seen {
    int n;
    uint8_t data[64];
    size_t len;
    struct sockaddr_storage from;
    socklen_t fromlen;
};

static void on_foreign(const uint8_t *data, size_t len, const struct sockaddr *from,
                       socklen_t fromlen, void *arg)
{
    struct foreign_seen *f = arg;
    f->n++;
    f->len = len < sizeof(f->data) ? len : sizeof(f->data);
    memcpy(f->data, data, f->len);
    memcpy(&f->from, from, fromlen);
    f->fromlen = fromlen;
}

/* A UDP port is never shared: x->a's listener does not let another socket
 * that asks for sharing (SO_REUSEADDR) onto its port, and a listener is
 * not put on a port such a socket holds.  (With sharing, bind() to port 0
 * could hand two in-process nodes the same port: one got the other's
 * handshakes, a wrong peer ID.) */
static void test_port_not_shared(void **state)
{
    struct ctx *x = *state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    int one = 1, fd = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&x->addr, x->addrlen), -1);
    assert_int_equal(errno, EADDRINUSE);
    close(fd);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    assert_true(vx_transport_listen(x->b, (struct sockaddr *)&sin, sl) < 0);
    close(fd);
}

static void test_foreign_datagrams(void **state)
{
    struct ctx *x = *state;
    struct foreign_seen seen = {0};
    static const uint8_t dht[] = {0x01, 0x01, 'p', 'i', 'n', 'g'};
    uint8_t reply[64];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ssize_t n = -1;

    assert_true(fd >= 0);
    assert_int_equal(vx_transport_quic_set_foreign(x->a, on_foreign, &seen), 0);
    assert_true(vx_transport_quic_udp_fd(x->a) >= 0);
    assert_int_equal(vx_transport_quic_udp_fd(x->b), VX_ERR_NOTFOUND); /* not listening */
    assert_int_equal(sendto(fd, dht, sizeof(dht), 0, (struct sockaddr *)&x->addr, x->addrlen),
                     sizeof(dht));
    for (int i = 0; i < 100 && !seen.n; i++) {
        ev_run(x->loop, EVRUN_NOWAIT);
        if (!seen.n)
            usleep(10000);
    }
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.len, sizeof(dht));
    assert_memory_equal(seen.data, dht, sizeof(dht));
    /* Answer from the node port, as the DHT does. */
    assert_int_equal(sendto(vx_transport_quic_udp_fd(x->a), "pong", 4, 0,
                            (struct sockaddr *)&seen.from, seen.fromlen),
                     4);
    for (int i = 0; i < 100 && n < 0; i++) {
        n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
        if (n < 0)
            usleep(10000);
    }
    close(fd);
    assert_int_equal(n, 4);
    assert_memory_equal(reply, "pong", 4);
    /* QUIC on the same socket still works. */
    test_transfer_both_ways(state);
    assert_int_equal(seen.n, 1); /* QUIC packets never reach the hook */
}

/* ---- unreachable peers: ICMP errors start a probe ---- */

static int setup_slow_idle(void **state)
{
    signal(SIGPIPE, SIG_IGN); /* pumps write into streams that fail */
    slow_idle = 1;
    int r = setup(state);
    slow_idle = 0;
    return r;
}

/* Port of the client's socket, as the server sees it. */
static uint16_t client_port(struct ctx *x)
{
    struct portcheck pc = {0};
    vx_transport_foreach_session(x->a, visit_port, &pc);
    assert_int_not_equal(pc.port, 0);
    return pc.port;
}

/* The UDP socket bound to port, among our descriptors. */
static int udp_fd_on(uint16_t port)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int type = 0;
        socklen_t tl = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
            continue;
        if ((ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == port) ||
            (ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port))
            return fd;
    }
    return -1;
}

/* As if the process owning fd were killed: its port closes at once (the
 * kernel answers ICMP port unreachable from now on) without a
 * CONNECTION_CLOSE, and what its transport still sends goes nowhere. */
static void kill_socket(int fd)
{
    int nfd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0 && nfd >= 0);
    assert_int_equal(dup2(nfd, fd), fd);
    close(nfd);
}

static uint16_t inet_sum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* Forge an ICMP port unreachable on 127.0.0.1, quoting a UDP datagram
 * from sport to dport (so it is reported to the socket on sport).  0, or
 * -1 without CAP_NET_RAW. */
static int forge_port_unreachable(uint16_t sport, uint16_t dport)
{
    struct {
        struct icmphdr icmp;
        struct iphdr ip;
        struct udphdr udp;
    } __attribute__((packed)) m;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

    if (fd < 0)
        return -1;
    memset(&m, 0, sizeof(m));
    m.icmp.type = ICMP_DEST_UNREACH;
    m.icmp.code = ICMP_PORT_UNREACH;
    m.ip.version = 4;
    m.ip.ihl = 5;
    m.ip.tot_len = htons(sizeof(m.ip) + sizeof(m.udp) + 100);
    m.ip.ttl = 64;
    m.ip.protocol = IPPROTO_UDP;
    m.ip.saddr = m.ip.daddr = htonl(INADDR_LOOPBACK);
    m.ip.check = inet_sum(&m.ip, sizeof(m.ip));
    m.udp.source = htons(sport);
    m.udp.dest = htons(dport);
    m.udp.len = htons(sizeof(m.udp) + 100);
    m.icmp.checksum = inet_sum(&m, sizeof(m));
    assert_int_equal(sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&to, sizeof(to)), sizeof(m));
    close(fd);
    return 0;
}

static int client_closed(struct ctx *x)
{
    return x->ts[0].closed;
}

static int acc_closed_any(struct ctx *x)
{
    return x->nacc == 1 && x->acc[0]->closed;
}

/* The server's process dies: the client's dialled socket gets ECONNREFUSED,
 * probes, and its stream fails in about a second, not after 30 s. */
static void test_icmp_server_gone(void **state)
{
    struct ctx *x = *state;
    struct vx_transport_stats st;
    double secs;

    x->cli_send = 1ull << 40; /* the client keeps sending */
    x->srv_send = 0;
    x->srv_after_eof = 1;
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, acc_open_pumping, 5) >= 0);
    kill_socket(vx_transport_quic_udp_fd(x->a));
    secs = run_until(x, client_closed, 10);
    printf("# server gone: the client's stream failed after %.2f s\n", secs);
    assert_true(secs >= 0 && secs < 2.5);
    assert_int_equal(x->ts[0].close_err, VX_ERR_UNREACH);
    vx_transport_get_stats(x->b, &st);
    assert_true(st.icmp_probes >= 1);
    assert_int_equal(st.peer_unreachable, 1);
    assert_int_equal(st.sessions, 0);
}

/* The client's process dies: the server learns it from the ICMP errors
 * queued on its listener (IP_RECVERR), probes, and closes. */
static void test_icmp_client_gone(void **state)
{
    struct ctx *x = *state;
    struct vx_transport_stats st;
    double secs;

    x->cli_send = 1000;
    x->srv_send = 1ull << 40; /* the server keeps sending */
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, acc_open_pumping, 5) >= 0);
    kill_socket(udp_fd_on(client_port(x)));
    secs = run_until(x, acc_closed_any, 10);
    printf("# client gone: the server's stream failed after %.2f s\n", secs);
    assert_true(secs >= 0 && secs < 2.5);
    assert_int_equal(x->acc[0]->close_err, VX_ERR_UNREACH);
    vx_transport_get_stats(x->a, &st);
    assert_true(st.icmp_probes >= 1);
    assert_int_equal(st.peer_unreachable, 1);
}

static int both_open(struct ctx *x)
{
    return x->nacc == 1 && x->ts[0].opened;
}

static int never(struct ctx *x)
{
    (void)x;
    return 0;
}

/* Forged ICMP errors against a live session (to both ends) start probes
 * that the peers answer: nothing is closed. */
static void test_icmp_forged(void **state)
{
    struct ctx *x = *state;
    struct vx_transport_stats sa, sb;
    uint16_t aport = ntohs(((struct sockaddr_in *)&x->addr)->sin_port), bport;

    x->cli_send = 1000;
    x->cli_after_eof = 1;
    x->srv_send = 0;
    x->srv_after_eof = 1; /* each waits for the other: the stream stays open, idle */
    open_one(x, x->ida.node_id, 0);
    assert_true(run_until(x, both_open, 5) >= 0);
    bport = client_port(x);
    if (forge_port_unreachable(bport, aport) < 0)
        skip(); /* no CAP_NET_RAW */
    assert_int_equal(forge_port_unreachable(aport, bport), 0);
    run_until(x, never, 2.0); /* past the probe window */
    vx_transport_get_stats(x->a, &sa);
    vx_transport_get_stats(x->b, &sb);
    printf("# forged ICMP: %llu + %llu probes, all answered\n", (unsigned long long)sa.icmp_probes,
           (unsigned long long)sb.icmp_probes);
    assert_int_equal(sb.icmp_probes, 1);
    assert_int_equal(sa.icmp_probes, 1);
    assert_int_equal(sa.peer_unreachable + sb.peer_unreachable, 0);
    assert_false(x->ts[0].closed);
    assert_false(x->acc[0]->closed);
    assert_int_equal(sa.sessions, 1);
    /* and the stream still carries data */
    x->acc[0]->p.tx_total = 5000;
    x->acc[0]->p.send_after_eof = 0;
    pump_update(&x->acc[0]->p);
    assert_true(run_until(x, all_done, 5) >= 0);
    check_done(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_transfer_both_ways, setup, teardown),
            cmocka_unit_test_setup_teardown(test_wrong_peer_id, setup, teardown),
            cmocka_unit_test_setup_teardown(test_direct_mode_learns_id, setup, teardown),
            cmocka_unit_test_setup_teardown(test_half_close_server_first, setup, teardown),
            cmocka_unit_test_setup_teardown(test_half_close_client_first, setup, teardown),
            cmocka_unit_test_setup_teardown(test_refused_reasons, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reset_both_ways, setup, teardown),
            cmocka_unit_test_setup_teardown(test_many_streams, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dead_peer, setup, teardown),
            cmocka_unit_test_setup_teardown(test_graceful_close, setup, teardown),
            cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lossy_link, setup, teardown),
            cmocka_unit_test_setup_teardown(test_version_negotiation, setup, teardown),
            cmocka_unit_test_setup_teardown(test_foreign_datagrams, setup, teardown),
            cmocka_unit_test_setup_teardown(test_port_not_shared, setup, teardown),
            cmocka_unit_test_setup_teardown(test_icmp_server_gone, setup_slow_idle, teardown),
            cmocka_unit_test_setup_teardown(test_icmp_client_gone, setup_slow_idle, teardown),
            cmocka_unit_test_setup_teardown(test_icmp_forged, setup_slow_idle, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
