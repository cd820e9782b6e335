/* test_hsconn.c — hidden services end to end on one loop: NODES in-process
 * nodes, each with a TCP transport, a relay and a DHT on loopback.  Node
 * OWNER serves "web" (a local echo server) as a hidden service; clients on
 * other nodes connect through introduction and rendezvous points and move
 * data both ways (a deterministic pattern, checked byte by byte).  Also:
 * the balanced profile, an intro node killed (a standby takes over and the
 * descriptor is republished), a replayed INTRODUCE, error codes and their
 * timing, client authorization, a rendezvous point the owner does not know. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <sodium.h>

#include "path/circuit.h"
#include "crypto/identity.h"
#include "dht/dht.h"
#include "hidden/hsaddr.h"
#include "hidden/hsconn.h"
#include "hidden/hsnet.h"
#include "hidden/intro.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "registry/registry.h"
#include "service/service.h"
#include "transport/tcp.h"
#include "wire/cell.h"

#define NODES 12
#define OWNER 1

static struct ev_loop *loop;

struct node {
    struct vx_identity id;
    struct vx_transport *t;
    struct vx_relay *r;
    struct vx_registry *reg;
    struct vx_dht *dht;
    struct vx_hs_connector *k;
    struct sockaddr_storage addr, daddr;
    socklen_t addrlen;
    int dead;
};
static struct node nodes[NODES];

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    struct node *nd = arg;
    if (tgt->kind == VX_TARGET_RELAY)
        vx_relay_accept(s, tgt, nd->r);
    else
        vx_stream_accept(s, VX_ERR_REFUSED, NULL, NULL);
}

/* ---- echo server ---- */
static int echo_lfd = -1;
static ev_io echo_w;
struct echo {
    int fd;
    ev_io w;
    uint8_t buf[65536];
    size_t len;
    int eof;
};

static void echo_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct echo *e = w->data;
    if (e->len == 0) {
        ssize_t n = read(e->fd, e->buf, sizeof(e->buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            ev_io_stop(l, w);
            close(e->fd);
            free(e);
            return;
        }
        e->len = (size_t)n;
        ev_io_stop(l, w);
        ev_io_set(w, e->fd, EV_WRITE);
        ev_io_start(l, w);
        return;
    }
    ssize_t n = write(e->fd, e->buf, e->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        ev_io_stop(l, w);
        close(e->fd);
        free(e);
        return;
    }
    memmove(e->buf, e->buf + n, e->len - (size_t)n);
    e->len -= (size_t)n;
    if (e->len == 0) {
        ev_io_stop(l, w);
        ev_io_set(w, e->fd, EV_READ);
        ev_io_start(l, w);
    }
}

static void echo_accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
    int fd = accept4(echo_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct echo *e = calloc(1, sizeof(*e));
    e->fd = fd;
    ev_io_init(&e->w, echo_cb, fd, EV_READ);
    e->w.data = e;
    ev_io_start(l, &e->w);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    ev_break(l, EVBREAK_ALL);
}

static void run_loop(double secs)
{
    ev_timer g;
    ev_timer_init(&g, guard_cb, secs, 0);
    ev_timer_start(loop, &g);
    ev_run(loop, 0);
    ev_timer_stop(loop, &g);
}

static struct vx_identity svc_id;
static struct vx_hs_service *svc;
static char svc_addr[VX_HSADDR_LEN + 1];
static struct vx_service_def web_def;
static struct vx_portmap web_ports[1];

static void node_up(int i)
{
    struct node *nd = &nodes[i];
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct vx_dht_conf dconf;
    struct vx_relay_conf rc;
    uint8_t seed[VX_SEED_LEN];
    socklen_t sl;

    memset(seed, 0x70 + i, sizeof(seed));
    assert_int_equal(vx_identity_from_seed(&nd->id, seed), 0);
    nd->t = vx_transport_tcp_new(loop, &nd->id, NULL);
    assert_int_equal(vx_transport_listen(nd->t, (struct sockaddr *)&la, sizeof(la)), 0);
    nd->addrlen = sizeof(nd->addr);
    vx_transport_tcp_local_addr(nd->t, &nd->addr, &nd->addrlen);
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0; /* everything is on 127.0.0.1 */
    rc.setup_timeout_ms = 2000;
    nd->r = vx_relay_new(loop, nd->t, &nd->id, &rc);
    vx_transport_set_accept(nd->t, accept_cb, nd);

    nd->reg = vx_registry_new(NULL);
    vx_dht_conf_default(&dconf);
    dconf.core.k = 4;
    dconf.core.request_timeout_ms = 150;
    dconf.core.lookup_timeout_ms = 1500;
    /* the STORE rate limit is per source address, and all twelve nodes are
     * 127.0.0.1: one bucket where a real network has twelve */
    dconf.core.store_burst = 1000;
    nd->dht = vx_dht_new(loop, &nd->id, nd->reg, &dconf);
    assert_int_equal(vx_dht_listen(nd->dht, (struct sockaddr *)&la, sizeof(la)), 0);
    assert_int_equal(vx_dht_local_addr(nd->dht, &nd->daddr, &sl), 0);
    nd->dead = 0;
}

static void set_pools(void)
{
    struct vx_relay_cand pool[NODES];
    size_t np = 0;
    memset(pool, 0, sizeof(pool));
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].dead)
            continue;
        memcpy(pool[np].pk, nodes[i].id.pk, 32);
        memcpy(&pool[np].addr, &nodes[i].addr, nodes[i].addrlen);
        pool[np].addrlen = nodes[i].addrlen;
        pool[np].relay = 1;
        np++;
    }
    /* the pool is what the registry knows: a killed node stays in it for a
     * while, as it would in a daemon */
    for (int i = 0; i < NODES; i++)
        if (!nodes[i].dead)
            vx_relay_set_pool(nodes[i].r, pool, np);
}

static void node_kill(int i)
{
    struct node *nd = &nodes[i];
    if (nd->dead)
        return;
    vx_hs_connector_free(nd->k);
    nd->k = NULL;
    vx_relay_free(nd->r);
    vx_transport_free(nd->t);
    vx_dht_free(nd->dht);
    vx_registry_free(nd->reg);
    nd->dead = 1;
}

static int setup(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    vx_log_set_level(getenv("VX6_TEST_LOG") ? VX_LOG_INFO : VX_LOG_NONE);
    signal(SIGPIPE, SIG_IGN);
    loop = ev_default_loop(0);
    echo_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (bind(echo_lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -1;
    listen(echo_lfd, 64);
    getsockname(echo_lfd, (struct sockaddr *)&sin, &sl);
    ev_io_init(&echo_w, echo_accept_cb, echo_lfd, EV_READ);
    ev_io_start(loop, &echo_w);
    memset(&web_def, 0, sizeof(web_def));
    strcpy(web_def.name, "web");
    web_def.hidden = 1;
    web_ports[0].vport = 80;
    memcpy(&web_ports[0].target, &sin, sizeof(sin));
    web_ports[0].target_len = sizeof(sin);
    web_def.ports = web_ports;
    web_def.nports = 1;

    for (int i = 0; i < NODES; i++)
        node_up(i);
    for (int i = 1; i < NODES; i++)
        if (vx_dht_bootstrap(nodes[i].dht, &nodes[0].daddr, 1) < 0)
            return -1;
    set_pools();
    run_loop(1.0);
    return 0;
}

static int teardown(void **state)
{
    vx_hs_service_free(svc);
    svc = NULL;
    for (int i = 0; i < NODES; i++)
        node_kill(i);
    ev_io_stop(loop, &echo_w);
    close(echo_lfd);
    return 0;
}

/* ---- a client connection driven with a pattern ---- */

struct conn {
    struct vx_hs_conn *hc;
    int fd;
    ev_io rw, ww;
    uint64_t to_send, sent, received;
    int opened, open_err, closed, close_err, bad, eof;
    uint64_t t_open_ms;
    struct vx_hs_conn_info info;
};

static uint8_t pat(uint64_t pos)
{
    return (uint8_t)((pos * 2654435761u) >> 11);
}

static void conn_rw_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *k = w->data;
    uint8_t buf[32768];
    ssize_t n = read(k->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        k->eof = 1;
        ev_io_stop(l, w);
        ev_break(l, EVBREAK_ALL);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] != pat(k->received + (uint64_t)i))
            k->bad = 1;
    k->received += (uint64_t)n;
}

static void conn_ww_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *k = w->data;
    uint8_t buf[32768];
    while (k->sent < k->to_send) {
        size_t n = sizeof(buf);
        if (n > k->to_send - k->sent)
            n = (size_t)(k->to_send - k->sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(k->sent + i);
        ssize_t wr = write(k->fd, buf, n);
        if (wr < 0)
            return;
        k->sent += (uint64_t)wr;
    }
    ev_io_stop(l, w);
    shutdown(k->fd, SHUT_WR);
}

static void c_open(struct vx_hs_conn *hc, int err, void *arg)
{
    struct conn *k = arg;
    k->opened = 1;
    k->open_err = err;
    vx_hs_conn_info(hc, &k->info);
    k->t_open_ms = vx_time_mono_ms();
    if (err < 0) {
        k->hc = NULL;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    k->fd = sp[0];
    assert_int_equal(vx_hs_conn_splice(hc, sp[1]), 0);
    ev_io_init(&k->rw, conn_rw_cb, k->fd, EV_READ);
    ev_io_init(&k->ww, conn_ww_cb, k->fd, EV_WRITE);
    k->rw.data = k->ww.data = k;
    ev_io_start(loop, &k->rw);
    ev_io_start(loop, &k->ww);
}

static void c_close(struct vx_hs_conn *hc, int err, void *arg)
{
    struct conn *k = arg;
    k->closed = 1;
    k->close_err = err;
    k->hc = NULL;
}

static const struct vx_hs_conn_cbs ccbs = {c_open, c_close};

static struct vx_hs_connector *connector(int i, unsigned profile)
{
    struct vx_hs_connector_conf kc = {.profile = profile, .resolve_timeout_ms = 2500};
    vx_hs_connector_free(nodes[i].k);
    nodes[i].k = vx_hs_connector_new(nodes[i].r, nodes[i].dht, &kc);
    return nodes[i].k;
}

static void start_conn(struct conn *k, int client, const char *addr, uint16_t port, uint64_t bytes)
{
    int err = 1;
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->to_send = bytes;
    k->hc = vx_hs_connect(nodes[client].k, addr, port, &ccbs, k, &err);
    assert_non_null(k->hc);
    assert_int_equal(err, 0);
    assert_false(k->opened); /* never from inside the call */
}

/* Open, move `bytes` both ways, end cleanly.  Returns ms to open; info
 * (if not NULL) gets the connection's info as it opened. */
static uint64_t transfer_info(int client, const char *addr, uint64_t bytes,
                              struct vx_hs_conn_info *info)
{
    struct conn k;
    uint64_t t0 = vx_time_mono_ms();
    start_conn(&k, client, addr, 80, bytes);
    while (!k.opened && vx_time_mono_ms() - t0 < 20000)
        run_loop(1);
    assert_true(k.opened);
    assert_int_equal(k.open_err, 0);
    uint64_t open_ms = k.t_open_ms - t0;
    while (!k.eof && vx_time_mono_ms() - t0 < 60000)
        run_loop(1);
    assert_true(k.eof);
    assert_false(k.bad);
    assert_int_equal(k.received, bytes);
    for (int i = 0; i < 20 && !k.closed; i++)
        run_loop(0.05);
    assert_true(k.closed);
    assert_int_equal(k.close_err, 0);
    close(k.fd);
    if (info)
        *info = k.info;
    return open_ms;
}

static uint64_t transfer(int client, const char *addr, uint64_t bytes)
{
    return transfer_info(client, addr, bytes, NULL);
}

static int expect_error(int client, const char *addr, uint16_t port, double max_s)
{
    struct conn k;
    uint64_t t0 = vx_time_mono_ms();
    start_conn(&k, client, addr, port, 0);
    while (!k.opened && vx_time_mono_ms() - t0 < (uint64_t)(max_s * 1000) + 2000)
        run_loop(0.5);
    assert_true(k.opened);
    assert_true((double)(vx_time_mono_ms() - t0) < max_s * 1000);
    if (k.open_err == 0) {
        vx_hs_conn_close(k.hc);
        close(k.fd);
    }
    return k.open_err;
}

static void wait_published(struct vx_hs_service *s, double max_s)
{
    struct vx_hs_service_status st;
    uint64_t t0 = vx_time_mono_ms();
    do {
        run_loop(0.02);
        vx_hs_service_status(s, &st);
    } while (!st.published && vx_time_mono_ms() - t0 < max_s * 1000);
    assert_true(st.published);
    run_loop(0.3); /* the DHT stores settle */
}

static void serve(unsigned profile, const uint8_t (*clients)[32], size_t nc)
{
    struct vx_hs_serve_conf sc = {.profile = profile, .clients = clients, .n_clients = nc};
    vx_hs_service_free(svc);
    assert_int_equal(vx_identity_generate(&svc_id), 0);
    svc = vx_hs_serve(nodes[OWNER].r, nodes[OWNER].dht, &svc_id, &web_def, &sc);
    strcpy(svc_addr, vx_hs_service_address(svc));
    wait_published(svc, 10);
}

/* ------------------------------------------------------------------ */

static void test_fast(void **state)
{
    struct vx_hs_service_status st;
    serve(0, NULL, 0);
    vx_hs_service_status(svc, &st);
    assert_int_equal(st.active, 3);
    assert_int_equal(st.standby, 2);
    assert_true(st.reachable_ms < 5000);
    connector(0, VX_HS_PROFILE_FAST);
    uint64_t ms = transfer(0, svc_addr, 1u << 20);
    print_message(
            "      fast: first connection opened in %llu ms (owner reachable after %llu ms)\n",
            (unsigned long long)ms, (unsigned long long)st.reachable_ms);
    /* again, with the descriptor cached */
    ms = transfer(0, svc_addr, 200000);
    print_message("      fast: second connection opened in %llu ms\n", (unsigned long long)ms);
    vx_hs_service_status(svc, &st);
    assert_int_equal(st.introduces, 2);
    assert_int_equal(st.rend_ok, 2);
    assert_int_equal(st.streams, 2);
    assert_int_equal(st.replays, 0);
    run_loop(0.3); /* the last DESTROYs travel */
    vx_hs_service_status(svc, &st);
    assert_int_equal(st.closed_clean, 2);
    /* every rendezvous was joined at some node, and every circuit is gone */
    uint64_t joined = 0, introduced = 0;
    for (int i = 0; i < NODES; i++) {
        struct vx_relay_stats rs;
        vx_relay_get_stats(nodes[i].r, &rs);
        joined += rs.rend_joined;
        introduced += rs.introduces;
        assert_int_equal(rs.rend_circuits, 0);
        assert_int_equal(rs.crypto_failures, 0);
    }
    assert_int_equal(joined, 2);
    assert_int_equal(introduced, 2);
}

static void test_balanced(void **state)
{
    serve(VX_HS_PROFILE_BALANCED, NULL, 0);
    connector(2, VX_HS_PROFILE_BALANCED);
    uint64_t ms = transfer(2, svc_addr, 1u << 20);
    print_message("      balanced: connection opened in %llu ms\n", (unsigned long long)ms);
}

/* Capture-and-resend: the same INTRODUCE1 twice through the intro point. */
struct replay_ctx {
    uint8_t msg[VX_INTRO_LEN];
    int acks, ok_acks, opened;
};

static void rp_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *d, size_t len, void *arg)
{
    struct replay_ctx *x = arg;
    uint8_t st;
    if (rcmd == VX_RC_INTRODUCE_ACK && vx_cell_ack_decode(d, len, &st) == 0) {
        x->acks++;
        x->ok_acks += st == VX_CELL_ACK_OK;
    }
}

static void rp_open(struct vx_circuit *c, int err, void *arg)
{
    struct replay_ctx *x = arg;
    x->opened = err == 0 ? 1 : -1;
    if (err)
        return;
    vx_circuit_set_cell_cb(c, rp_cell);
    assert_int_equal(vx_circuit_send_cell(c, VX_RC_INTRODUCE1, x->msg, sizeof(x->msg)), 0);
    assert_int_equal(vx_circuit_send_cell(c, VX_RC_INTRODUCE1, x->msg, sizeof(x->msg)), 0);
}

static void rp_close(struct vx_circuit *c, int err, void *arg)
{
}

struct res {
    int done, err;
    struct vx_hsdesc d;
};

static void on_resolved(int err, const struct vx_hsdesc *d, void *arg)
{
    struct res *r = arg;
    r->done = 1;
    r->err = err;
    if (d)
        r->d = *d;
}

static void test_replay(void **state)
{
    struct vx_hs_service_status st0, st;
    struct res r = {0};
    int err;
    serve(0, NULL, 0);
    vx_hs_service_status(svc, &st0);
    struct vx_hs_client *hsc = vx_hs_client_new(loop, nodes[3].dht);
    assert_non_null(vx_hs_resolve(hsc, svc_addr, NULL, 0, 3000, on_resolved, &r, &err));
    while (!r.done)
        run_loop(0.05);
    assert_int_equal(r.err, 0);
    const struct vx_hs_intro *in = &r.d.intros[0];
    int C = 3; /* the sender: neither the owner nor the intro point */
    while (C == OWNER || !memcmp(nodes[C].id.pk, in->node_pk, 32))
        C++;
    struct vx_intro_req req;
    struct vx_intro_client ist;
    struct vx_hs_endpoint ep = {.family = 4, .transports = 1, .port = 9};
    uint8_t subcred[32];
    struct replay_ctx x = {0};
    memcpy(ep.addr, "\x7f\0\0\x01", 4);
    vx_intro_req_fill(&req, vx_time_unix(), nodes[5].id.pk, &ep, 1);
    assert_int_equal(vx_hs_subcredential(svc_id.pk, r.d.o.period, subcred), 0);
    assert_int_equal(vx_intro_build(&ist, &req, in, subcred, NULL, x.msg, sizeof(x.msg)), 0);

    struct vx_circuit_req cr = {.hops = 2};
    memcpy(cr.dest.pk, in->node_pk, 32);
    for (int i = 0; i < NODES; i++)
        if (!memcmp(nodes[i].id.pk, in->node_pk, 32)) {
            memcpy(&cr.dest.addr, &nodes[i].addr, nodes[i].addrlen);
            cr.dest.addrlen = nodes[i].addrlen;
        }
    static const struct vx_circuit_cbs cbs = {rp_open, rp_close};
    struct vx_circuit *c = vx_circuit_connect(nodes[C].r, &cr, &cbs, &x, &err);
    assert_non_null(c);
    for (int i = 0; i < 60 && x.acks < 2; i++)
        run_loop(0.05);
    assert_int_equal(x.opened, 1);
    assert_int_equal(x.acks, 2);
    assert_int_equal(x.ok_acks, 2); /* the intro point cannot tell: it passes both on */
    run_loop(0.5);
    vx_hs_service_status(svc, &st);
    assert_int_equal(st.introduces - st0.introduces, 1);
    assert_int_equal(st.replays - st0.replays, 1); /* the second one dropped, counted */
    vx_circuit_close(c);
    vx_hs_client_free(hsc); /* nothing pending */
}

static void test_errors(void **state)
{
    struct vx_identity other;
    char addr[VX_HSADDR_LEN + 1];
    int err = 0;
    struct conn k;
    serve(0, NULL, 0);
    connector(4, 0);
    /* malformed: at once */
    assert_null(vx_hs_connect(nodes[4].k, "notanaddress.vx6", 80, &ccbs, &k, &err));
    assert_int_equal(err, VX_ERR_BADADDR);
    strcpy(addr, svc_addr);
    addr[10] = addr[10] == 'a' ? 'b' : 'a'; /* checksum no longer matches */
    assert_null(vx_hs_connect(nodes[4].k, addr, 80, &ccbs, &k, &err));
    assert_int_equal(err, VX_ERR_BADADDR);
    /* well-formed but unknown: NOTFOUND within the resolve timeout */
    vx_identity_generate(&other);
    vx_hsaddr_format(other.pk, addr, sizeof(addr));
    assert_int_equal(expect_error(4, addr, 80, 4.0), VX_ERR_NOTFOUND);
    /* a port the service does not map: the owner answers BEGIN_FAILED */
    assert_int_equal(expect_error(4, svc_addr, 81, 4.0), VX_ERR_NOTFOUND);

    /* a descriptor whose intro points do not know the service */
    struct vx_hs_owner *fake = vx_hs_owner_new(loop, nodes[6].dht, &other, "fake", 0);
    struct vx_hs_intro in[2];
    memset(in, 0, sizeof(in));
    for (int i = 0; i < 2; i++) {
        struct vx_identity ak;
        vx_identity_generate(&ak);
        memcpy(in[i].node_pk, nodes[7 + i].id.pk, 32);
        memcpy(in[i].auth_key, ak.pk, 32);
        randombytes_buf(in[i].enc_key, 32);
        in[i].n_endpoints = 1;
        in[i].ep[0].family = 4;
        in[i].ep[0].transports = 1;
        in[i].ep[0].port = ntohs(((struct sockaddr_in *)&nodes[7 + i].addr)->sin_port);
        memcpy(in[i].ep[0].addr, "\x7f\0\0\x01", 4);
    }
    assert_int_equal(vx_hs_owner_set_intros(fake, in, 2), 0);
    run_loop(0.5);
    assert_int_equal(expect_error(4, addr, 80, 5.0), VX_ERR_INTRO_FAILED);
    vx_hs_owner_free(fake);
}

static void test_client_auth(void **state)
{
    uint8_t csk[32], cpk[1][32], wrong[32];
    randombytes_buf(csk, 32);
    crypto_scalarmult_base(cpk[0], csk);
    randombytes_buf(wrong, 32);
    serve(0, (const uint8_t(*)[32])cpk, 1);
    connector(5, 0);
    assert_int_equal(expect_error(5, svc_addr, 80, 4.0), VX_ERR_AUTH_MISSING);
    assert_int_equal(vx_hs_connector_set_auth(nodes[5].k, svc_addr, wrong), 0);
    assert_int_equal(expect_error(5, svc_addr, 80, 4.0), VX_ERR_AUTH);
    assert_int_equal(vx_hs_connector_set_auth(nodes[5].k, svc_addr, csk), 0);
    vx_hs_connector_flush(nodes[5].k);
    transfer(5, svc_addr, 100000);
}

/* Pool of node i: the nodes whose bit is set in mask (and not dead). */
static void set_pool_of(int i, unsigned mask)
{
    struct vx_relay_cand pool[NODES];
    size_t np = 0;
    memset(pool, 0, sizeof(pool));
    for (int j = 0; j < NODES; j++) {
        if (nodes[j].dead || !(mask & 1u << j))
            continue;
        memcpy(pool[np].pk, nodes[j].id.pk, 32);
        vx_node_id_from_pk(nodes[j].id.pk, pool[np].id);
        memcpy(&pool[np].addr, &nodes[j].addr, nodes[j].addrlen);
        pool[np].addrlen = nodes[j].addrlen;
        pool[np].relay = 1;
        np++;
    }
    vx_relay_set_pool(nodes[i].r, pool, np);
}

/* The client's rendezvous point is unknown to the owner: the owner's
 * relay pool and the client's are disjoint (but for the client's own
 * node), so whatever point the client picks, the owner reaches it only
 * through the key and endpoint in the INTRODUCE. */
static void test_rend_unknown(void **state)
{
    struct vx_hs_service_status st0, st;
    struct vx_hs_conn_info info;
    const int client = 11;
    const unsigned owner_pool = 0x3f | 1u << client;   /* nodes 0..5 and the client */
    const unsigned client_pool = 0x7c0 | 1u << client; /* nodes 6..10 and itself */
    set_pool_of(OWNER, owner_pool);
    for (int i = 0; i < NODES; i++)
        if (i != OWNER && !nodes[i].dead)
            set_pool_of(i, i == client || (client_pool & 1u << i) ? client_pool : owner_pool);
    serve(0, NULL, 0);
    connector(client, 0);
    for (int n = 0; n < 3; n++) {
        vx_hs_service_status(svc, &st0);
        transfer_info(client, svc_addr, 50000, &info);
        vx_hs_service_status(svc, &st);
        int rp = -1;
        for (int i = 0; i < NODES; i++)
            if (!memcmp(nodes[i].id.node_id, info.rend_id, VX_NODE_ID_LEN))
                rp = i;
        print_message("      rendezvous point n%d, unknown to the owner\n", rp);
        assert_true(rp >= 0 && rp != client && (client_pool & 1u << rp));
        assert_false(owner_pool & 1u << rp);
        assert_int_equal(st.rend_ok, st0.rend_ok + 1);
        assert_int_equal(st.rend_failed, st0.rend_failed);
    }
    set_pools();
}

static void test_intro_killed(void **state)
{
    struct vx_hs_service_status st0, st;
    uint8_t ids[VX_HSDESC_MAX_INTROS][VX_NODE_ID_LEN];
    serve(0, NULL, 0);
    connector(9, 0);
    transfer(9, svc_addr, 100000); /* the client caches this descriptor */
    vx_hs_service_status(svc, &st0);
    size_t n = vx_hs_service_intros(svc, ids, VX_HSDESC_MAX_INTROS);
    assert_int_equal(n, 5);
    /* kill the first active intro point (never the owner or the clients) */
    int victim = -1;
    for (size_t j = 0; j < n && victim < 0; j++)
        for (int i = 0; i < NODES; i++)
            if (!memcmp(nodes[i].id.node_id, ids[j], 32) && i != OWNER && i != 9 && i != 10 &&
                i != 0)
                victim = i;
    assert_true(victim >= 0);
    node_kill(victim);
    /* the standby moves up at once, a replacement comes; changes within
     * half a second go out as one revision */
    uint64_t t0 = vx_time_mono_ms();
    do {
        run_loop(0.05);
        vx_hs_service_status(svc, &st);
    } while ((st.active + st.standby < 5 || st.publishes < st0.publishes + 1) &&
             vx_time_mono_ms() - t0 < 8000);
    run_loop(0.6); /* the coalesced revision, if a change came just after one */
    vx_hs_service_status(svc, &st);
    /* (more than one if the victim was also a guard of the owner) */
    assert_true(st.intro_changes >= st0.intro_changes + 1);
    assert_true(st.publishes >= st0.publishes + 1);
    assert_int_equal(st.active, 3);
    assert_int_equal(st.standby, 2);
    n = vx_hs_service_intros(svc, ids, VX_HSDESC_MAX_INTROS);
    for (size_t j = 0; j < n; j++)
        assert_memory_not_equal(ids[j], nodes[victim].id.node_id, 32);
    run_loop(0.5);
    /* a new client fetches the new descriptor and connects */
    connector(10, 0);
    transfer(10, svc_addr, 100000);
    /* the old client still holds the old descriptor: if it tries the dead
     * intro point it falls back to the next one */
    for (int i = 0; i < 3; i++)
        transfer(9, svc_addr, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fast),         cmocka_unit_test(test_balanced),
            cmocka_unit_test(test_replay),       cmocka_unit_test(test_errors),
            cmocka_unit_test(test_client_auth),  cmocka_unit_test(test_rend_unknown),
            cmocka_unit_test(test_intro_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
