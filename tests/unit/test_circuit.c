/* test_circuit.c — cells (hex vectors), the hop handshake, layered crypto,
 * and whole circuits over real TCP transports on one loop (or, built with
 * -DTEST_CIRCUIT_QUIC as test_circuit_quic, over QUIC transports).
 *
 * The in-process network: NODES transports on 127.0.0.1, each with its own
 * vx_relay; node 0 is the client, node DEST publishes "echo" (a local echo
 * server run by the test).  The client's end of each circuit is a
 * socketpair the test drives with a deterministic pattern. */
#include <errno.h>
#include <signal.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "crypto/channel.h"
#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "path/circuit.h"
#include "path/onion.h"
#include "path/select.h"
#include "service/service.h"
#include "transport/quic.h"
#include "transport/tcp.h"
#include "transport/transport.h"
#include "lib/vxtime.h"
#include "wire/cell.h"

static void hex(const char *h, uint8_t *out, size_t *n)
{
    size_t i = 0;
    for (; h[0] && h[1]; h += 2) {
        if (*h == ' ') {
            h--;
            continue;
        }
        unsigned v;
        sscanf(h, "%2x", &v);
        out[i++] = (uint8_t)v;
    }
    *n = i;
}

/* ------------------------------------------------------------------ */
/* cells */

static void test_cell_vectors(void **state)
{
    uint8_t out[VX_CELL_PAYLOAD_MAX], want[128];
    size_t n = 0, wn = 0;

    /* DATA "hi" pads to the 512 bucket */
    assert_int_equal(
            vx_relay_payload_encode(VX_RC_DATA, (const uint8_t *)"hi", 2, out, sizeof(out), &n), 0);
    assert_int_equal(n, 512);
    hex("0700026869", want, &wn);
    assert_memory_equal(out, want, wn);
    for (size_t i = 5; i < 512; i++)
        assert_int_equal(out[i], 0);
    uint8_t rc;
    const uint8_t *d;
    size_t dl;
    assert_int_equal(vx_relay_payload_decode(out, n, &rc, &d, &dl), 0);
    assert_int_equal(rc, VX_RC_DATA);
    assert_int_equal(dl, 2);
    assert_memory_equal(d, "hi", 2);
    /* non-zero padding, wrong size, a bigger bucket than needed: refused */
    out[100] = 1;
    assert_int_equal(vx_relay_payload_decode(out, n, &rc, &d, &dl), VX_ERR_PROTO);
    out[100] = 0;
    assert_int_equal(vx_relay_payload_decode(out, 511, &rc, &d, &dl), VX_ERR_PROTO);
    memset(out, 0, 2048);
    out[0] = VX_RC_DATA;
    out[2] = 2;
    assert_int_equal(vx_relay_payload_decode(out, 2048, &rc, &d, &dl), VX_ERR_PROTO);
    out[0] = 99;
    assert_int_equal(vx_relay_payload_decode(out, 512, &rc, &d, &dl), VX_ERR_PROTO);
    /* bucket boundaries */
    assert_int_equal(vx_cell_bucket_for(509), 512);
    assert_int_equal(vx_cell_bucket_for(510), 2048);
    assert_int_equal(vx_cell_bucket_for(VX_CELL_DATA_MAX), VX_CELL_PAYLOAD_MAX);
    assert_int_equal(vx_cell_bucket_for(VX_CELL_DATA_MAX + 1), 0);

    /* link framing */
    uint8_t c[8];
    struct vx_cell cell;
    size_t used;
    vx_cell_hdr_encode(c, VX_CELL_DESTROY, 1);
    c[3] = VX_CR_RESOURCE;
    hex("04000104", want, &wn);
    assert_memory_equal(c, want, 4);
    assert_int_equal(vx_cell_decode(c, 3, &cell, &used), VX_ERR_TRUNC);
    assert_int_equal(vx_cell_decode(c, 4, &cell, &used), 0);
    assert_int_equal(used, 4);
    assert_int_equal(cell.body[0], VX_CR_RESOURCE);
    c[0] = 9;
    assert_int_equal(vx_cell_decode(c, 4, &cell, &used), VX_ERR_PROTO);
    hex("03ffff", c, &wn); /* over VX_CELL_BODY_MAX */
    assert_int_equal(vx_cell_decode(c, 3, &cell, &used), VX_ERR_PROTO);

    /* EXTEND to 10.1.2.3:4242 */
    struct vx_cell_extend e, e2;
    memset(&e, 0, sizeof(e));
    memset(e.node_id, 0xaa, 32);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&e.addr;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(4242);
    inet_pton(AF_INET, "10.1.2.3", &s4->sin_addr);
    e.addrlen = sizeof(*s4);
    e.create.version = 1;
    e.create.aead = 1;
    memset(e.create.x, 0x55, 32);
    assert_int_equal(vx_cell_extend_encode(&e, out, sizeof(out), &n), 0);
    assert_int_equal(n, 32 + 1 + 4 + 2 + 34);
    hex("aaaaaaaa", want, &wn);
    assert_memory_equal(out, want, 4);
    hex("040a01020310920101555555", want, &wn);
    assert_memory_equal(out + 32, want, wn);
    assert_int_equal(vx_cell_extend_decode(out, n, &e2), 0);
    assert_int_equal(memcmp(&e2.addr, &e.addr, sizeof(struct sockaddr_in)), 0);
    assert_int_equal(vx_cell_extend_decode(out, n - 1, &e2), VX_ERR_PROTO);
    out[32] = 5;
    assert_int_equal(vx_cell_extend_decode(out, n, &e2), VX_ERR_PROTO);

    /* BEGIN web:80, anonymous */
    struct vx_cell_begin b = {.port = 80}, b2;
    strcpy(b.name, "web");
    assert_int_equal(vx_cell_begin_encode(&b, out, sizeof(out), &n), 0);
    hex("005003776562 00", want, &wn);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, wn);
    assert_int_equal(vx_cell_begin_decode(out, n, &b2), 0);
    assert_string_equal(b2.name, "web");
    assert_int_equal(b2.port, 80);
    out[n++] = 0;
    assert_int_equal(vx_cell_begin_decode(out, n, &b2), VX_ERR_PROTO);
    strcpy(b.name, "We b");
    assert_int_equal(vx_cell_begin_encode(&b, out, sizeof(out), &n), VX_ERR_INVAL);

    /* hidden-service commands: INTRODUCE_ACK "unknown" pads like DATA */
    assert_int_equal(vx_relay_payload_encode(VX_RC_INTRODUCE_ACK, (const uint8_t *)"\x01", 1, out,
                                             sizeof(out), &n),
                     0);
    hex("0d000101", want, &wn);
    assert_int_equal(n, 512);
    assert_memory_equal(out, want, wn);
    assert_int_equal(vx_relay_payload_decode(out, n, &rc, &d, &dl), 0);
    assert_int_equal(rc, VX_RC_INTRODUCE_ACK);
    uint8_t status = 9;
    assert_int_equal(vx_cell_ack_decode(d, dl, &status), 0);
    assert_int_equal(status, VX_CELL_ACK_UNKNOWN);
    assert_int_equal(vx_cell_ack_decode((const uint8_t *)"\x03", 1, &status), VX_ERR_PROTO);
    assert_int_equal(vx_cell_ack_decode((const uint8_t *)"\x00\x00", 2, &status), VX_ERR_PROTO);
    out[0] = VX_RC_MAX + 1; /* past the last command */
    assert_int_equal(vx_relay_payload_decode(out, n, &rc, &d, &dl), VX_ERR_PROTO);

    /* ESTABLISH_INTRO: auth key then signature; the signed message */
    struct vx_cell_estintro ei, ei2;
    uint8_t eb[VX_CELL_ESTINTRO_LEN], bind[32], msg[VX_CELL_ESTINTRO_MSG];
    memset(ei.auth_key, 0x11, 32);
    memset(ei.sig, 0x22, 64);
    vx_cell_estintro_encode(&ei, eb);
    hex("1111111111111111111111111111111111111111111111111111111111111111 2222", want, &wn);
    assert_memory_equal(eb, want, wn);
    assert_int_equal(vx_cell_estintro_decode(eb, sizeof(eb), &ei2), 0);
    assert_memory_equal(&ei2, &ei, sizeof(ei));
    assert_int_equal(vx_cell_estintro_decode(eb, sizeof(eb) - 1, &ei2), VX_ERR_PROTO);
    memset(bind, 0x33, 32);
    vx_cell_estintro_msg(bind, ei.auth_key, msg);
    assert_int_equal(sizeof(msg), 22 + 64);
    /* "vx6 establish intro v1" */
    hex("7678362065737461626c697368", want, &wn);
    assert_memory_equal(msg, want, wn);
    assert_int_equal(msg[22], 0x33);
    assert_int_equal(msg[22 + 32], 0x11);
}

/* ------------------------------------------------------------------ */
/* handshake and layers */

static void mkid(struct vx_identity *id, uint8_t seedbyte)
{
    uint8_t seed[VX_SEED_LEN];
    memset(seed, seedbyte, sizeof(seed));
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void handshake(const struct vx_identity *relay, const uint8_t *client_thinks_pk,
                      struct vx_onion_keys *kc, struct vx_onion_keys *ks, int *cres)
{
    struct vx_onion_client st;
    struct vx_cell_create cr;
    struct vx_cell_created cd;
    assert_int_equal(vx_onion_client_start(&st, client_thinks_pk, VX_AEAD_CHACHAPOLY, &cr), 0);
    assert_int_equal(vx_onion_server(relay, &cr, &cd, ks), 0);
    *cres = vx_onion_client_finish(&st, &cd, kc);
}

static void test_handshake(void **state)
{
    struct vx_identity a, b;
    struct vx_onion_keys kc, ks;
    int r;
    mkid(&a, 1);
    mkid(&b, 2);
    handshake(&a, a.pk, &kc, &ks, &r);
    assert_int_equal(r, 0);
    assert_memory_equal(kc.fwd, ks.fwd, 32);
    assert_memory_equal(kc.bwd, ks.bwd, 32);
    assert_memory_equal(kc.binding, ks.binding, 32);
    assert_memory_not_equal(kc.fwd, kc.bwd, 32);
    /* the client chose a's key but b answers: AUTH cannot match */
    handshake(&b, a.pk, &kc, &ks, &r);
    assert_int_equal(r, VX_ERR_CRYPTO);
    /* a tampered answer fails */
    struct vx_onion_client st;
    struct vx_cell_create cr;
    struct vx_cell_created cd;
    vx_onion_client_start(&st, a.pk, VX_AEAD_CHACHAPOLY, &cr);
    vx_onion_server(&a, &cr, &cd, &ks);
    cd.auth[7] ^= 1;
    assert_int_equal(vx_onion_client_finish(&st, &cd, &kc), VX_ERR_CRYPTO);
    /* a low-order point is refused */
    memset(cr.x, 0, 32);
    assert_int_equal(vx_onion_server(&a, &cr, &cd, &ks), VX_ERR_CRYPTO);
}

/* Seal a payload for 3 hops as the client does; relays open in order. */
static void test_layers(void **state)
{
    struct vx_identity ids[3];
    struct vx_onion_keys kc[3], ks[3];
    int r;
    for (int i = 0; i < 3; i++) {
        mkid(&ids[i], (uint8_t)(10 + i));
        handshake(&ids[i], ids[i].pk, &kc[i], &ks[i], &r);
        assert_int_equal(r, 0);
    }
    const char *marker = "MARKER-3f9a-plaintext";
    for (int tamper_at = -1; tamper_at < 3; tamper_at++) {
        struct vx_chan *cf[3], *rf[3];
        for (int i = 0; i < 3; i++) {
            cf[i] = vx_chan_new(VX_AEAD_CHACHAPOLY, kc[i].fwd);
            rf[i] = vx_chan_new(VX_AEAD_CHACHAPOLY, ks[i].fwd);
        }
        uint8_t buf[VX_CELL_PAYLOAD_MAX + 64];
        size_t n;
        vx_relay_payload_encode(VX_RC_DATA, (const uint8_t *)marker, strlen(marker), buf,
                                sizeof(buf), &n);
        for (int i = 2; i >= 0; i--) {
            vx_chan_seal(cf[i], buf, n, NULL, 0);
            n += 16;
        }
        assert_int_equal(n, 512 + 48);
        assert_null(memmem(buf, n, marker, strlen(marker)));
        /* relay 1 (second hop) cannot open what the first hop has not */
        {
            uint8_t copy[600];
            memcpy(copy, buf, n);
            struct vx_chan *x = vx_chan_new(VX_AEAD_CHACHAPOLY, ks[1].fwd);
            assert_int_equal(vx_chan_open(x, copy, n, NULL, 0), VX_ERR_CRYPTO);
            vx_chan_free(x);
        }
        for (int i = 0; i < 3; i++) {
            if (tamper_at == i)
                buf[n / 2] ^= 0x40; /* the previous hop flips a bit */
            r = vx_chan_open(rf[i], buf, n, NULL, 0);
            if (tamper_at == i) {
                assert_int_equal(r, VX_ERR_CRYPTO);
                break;
            }
            assert_int_equal(r, 0);
            n -= 16;
            if (i < 2) /* what a middle relay forwards is still sealed */
                assert_null(memmem(buf, n, marker, strlen(marker)));
        }
        if (tamper_at < 0) {
            uint8_t rc;
            const uint8_t *d;
            size_t dl;
            assert_int_equal(vx_relay_payload_decode(buf, n, &rc, &d, &dl), 0);
            assert_memory_equal(d, marker, strlen(marker));
        }
        for (int i = 0; i < 3; i++) {
            vx_chan_free(cf[i]);
            vx_chan_free(rf[i]);
        }
    }
}

static uint32_t seq_rnd(void *arg)
{
    uint32_t *x = arg;
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static void test_select(void **state)
{
    struct vx_relay_cand pool[6];
    memset(pool, 0, sizeof(pool));
    const char *ips[6] = {"10.1.0.1", "10.1.0.2", "10.2.0.1", "10.3.0.1", "10.4.0.1", "10.5.0.1"};
    for (int i = 0; i < 6; i++) {
        struct vx_identity id;
        mkid(&id, (uint8_t)(40 + i));
        memcpy(pool[i].pk, id.pk, 32);
        memcpy(pool[i].id, id.node_id, 32);
        struct sockaddr_in *s4 = (struct sockaddr_in *)&pool[i].addr;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ips[i], &s4->sin_addr);
        pool[i].addrlen = sizeof(*s4);
        pool[i].relay = 1;
    }
    pool[4].relay = 0;
    struct sockaddr_in dest = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.5.9.9", &dest.sin_addr);
    uint8_t excl[1][VX_NODE_ID_LEN];
    memcpy(excl[0], pool[3].id, 32);
    uint32_t seed = 1;
    struct vx_select_opts o = {.hops = 2,
                               .diversity = 1,
                               .exclude = (const uint8_t(*)[VX_NODE_ID_LEN])excl,
                               .nexclude = 1,
                               .dest_addr = (struct sockaddr *)&dest,
                               .rnd = seq_rnd,
                               .rnd_arg = &seed};
    for (int k = 0; k < 200; k++) {
        size_t out[2];
        assert_int_equal(vx_select_relays(pool, 6, &o, out), 0);
        /* eligible: {0 or 1} (same /16) and 2; never 3 (excluded), 4 (no relay), 5 (dest /16) */
        for (int j = 0; j < 2; j++)
            assert_true(out[j] <= 2);
        assert_true(out[0] != out[1]);
        assert_false(out[0] <= 1 && out[1] <= 1);
    }
    o.hops = 3;
    size_t out3[3];
    assert_int_equal(vx_select_relays(pool, 6, &o, out3), VX_ERR_NOTFOUND);
    o.diversity = 0;
    assert_int_equal(vx_select_relays(pool, 6, &o, out3), 0);
    /* healthier, faster relays are likelier */
    pool[0].successes = 100;
    pool[0].rtt_ms = 5;
    pool[1].failures = 100;
    pool[1].rtt_ms = 500;
    assert_true(vx_select_weight(&pool[0], 0) > 20 * vx_select_weight(&pool[1], 0));
}

/* ------------------------------------------------------------------ */
/* in-process network */

#define NODES 8
#define DEST  (NODES - 1)

static struct ev_loop *loop;

struct node {
    struct vx_identity id;
    struct vx_transport *t;
    struct vx_relay *r;
    struct vx_services *svcs;
    struct sockaddr_storage addr;
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
        vx_services_accept(s, tgt, nd->svcs);
}

/* echo server */
static int echo_lfd = -1;
static ev_io echo_w;
struct echo {
    int fd;
    ev_io w;
    uint8_t buf[65536];
    size_t len;
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

static uint8_t allowed_id[1][VX_NODE_ID_LEN];

static void net_up(const struct vx_relay_conf *rconf)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    loop = ev_default_loop(0);
    echo_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(bind(echo_lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    listen(echo_lfd, 64);
    getsockname(echo_lfd, (struct sockaddr *)&sin, &sl);
    ev_io_init(&echo_w, echo_accept_cb, echo_lfd, EV_READ);
    ev_io_start(loop, &echo_w);

    static struct vx_service_def defs[4];
    memset(defs, 0, sizeof(defs));
    strcpy(defs[0].name, "echo");
    defs[0].has_target = 1;
    memcpy(&defs[0].target, &sin, sizeof(sin));
    defs[0].target_len = sizeof(sin);
    defs[1] = defs[0];
    strcpy(defs[1].name, "private"); /* only the client node, proven end to end */
    defs[2] = defs[0];
    strcpy(defs[2].name, "relayonly"); /* route: relay */
    defs[2].route = VX_SERVICE_ROUTE_RELAY;
    defs[3] = defs[0];
    strcpy(defs[3].name, "directonly"); /* route: direct */
    defs[3].route = VX_SERVICE_ROUTE_DIRECT;

    for (int i = 0; i < NODES; i++) {
        struct node *nd = &nodes[i];
        struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        mkid(&nd->id, (uint8_t)(100 + i));
#ifdef TEST_CIRCUIT_QUIC
        nd->t = vx_transport_quic_new(loop, &nd->id, NULL);
#else
        nd->t = vx_transport_tcp_new(loop, &nd->id, NULL);
#endif
        assert_int_equal(vx_transport_listen(nd->t, (struct sockaddr *)&la, sizeof(la)), 0);
        nd->addrlen = sizeof(nd->addr);
#ifdef TEST_CIRCUIT_QUIC
        assert_int_equal(vx_transport_quic_local_addr(nd->t, &nd->addr, &nd->addrlen), 0);
#else
        vx_transport_tcp_local_addr(nd->t, &nd->addr, &nd->addrlen);
#endif
        nd->r = vx_relay_new(loop, nd->t, &nd->id, rconf);
        nd->svcs = vx_services_new(loop);
        nd->dead = 0;
        vx_transport_set_accept(nd->t, accept_cb, nd);
    }
    memcpy(allowed_id[0], nodes[0].id.node_id, 32);
    defs[1].allow = (const uint8_t(*)[VX_NODE_ID_LEN])allowed_id;
    defs[1].nallow = 1;
    assert_int_equal(vx_services_set(nodes[DEST].svcs, defs, 4), 0);
    vx_relay_set_services(nodes[DEST].r, nodes[DEST].svcs);
    /* the client's pool: every other node but the destination */
    struct vx_relay_cand pool[NODES];
    memset(pool, 0, sizeof(pool));
    size_t np = 0;
    for (int i = 1; i < DEST; i++) {
        memcpy(pool[np].pk, nodes[i].id.pk, 32);
        memcpy(&pool[np].addr, &nodes[i].addr, nodes[i].addrlen);
        pool[np].addrlen = nodes[i].addrlen;
        pool[np].relay = 1;
        np++;
    }
    vx_relay_set_pool(nodes[0].r, pool, np);
}

static void node_kill(int i)
{
    struct node *nd = &nodes[i];
    if (nd->dead)
        return;
    vx_relay_free(nd->r);
    vx_services_free(nd->svcs);
    vx_transport_free(nd->t);
    nd->r = NULL;
    nd->svcs = NULL;
    nd->t = NULL;
    nd->dead = 1;
}

static void net_down(void)
{
    for (int i = 0; i < NODES; i++)
        node_kill(i);
    ev_io_stop(loop, &echo_w);
    close(echo_lfd);
}

/* one client connection */
struct conn {
    struct vx_circuit *c;
    int fd; /* test's end */
    ev_io rw, ww;
    uint64_t to_send, sent, received;
    int opened, open_err, closed, close_err, bad, eof;
    unsigned attempts;
    uint8_t ids[VX_CIRCUIT_MAX_HOPS][VX_NODE_ID_LEN]; /* the hops, when it opened */
    uint64_t open_ms;                                 /* how long the build took */
};

static uint8_t pat(uint64_t pos)
{
    return (uint8_t)((pos * 2654435761u) >> 13);
}

static int pending_conns;
static uint64_t break_at;

static void conn_done(struct conn *k)
{
    ev_io_stop(loop, &k->rw);
    ev_io_stop(loop, &k->ww);
    if (--pending_conns == 0)
        ev_break(loop, EVBREAK_ALL);
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
        conn_done(k);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] != pat(k->received + (uint64_t)i))
            k->bad = 1;
    k->received += (uint64_t)n;
    if (break_at && k->received >= break_at)
        ev_break(loop, EVBREAK_ALL);
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

static void c_open(struct vx_circuit *c, int err, void *arg)
{
    struct conn *k = arg;
    k->opened = 1;
    k->open_err = err;
    k->attempts = vx_circuit_attempts(c);
    k->open_ms = vx_time_mono_ms() - k->open_ms;
    for (unsigned i = 0; i < vx_circuit_hops(c); i++)
        memcpy(k->ids[i], vx_circuit_hop_id(c, i), VX_NODE_ID_LEN);
    if (err < 0) {
        k->c = NULL;
        conn_done(k);
        return;
    }
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
    k->fd = sp[0];
    assert_int_equal(vx_circuit_splice(c, sp[1]), 0);
    ev_io_init(&k->rw, conn_rw_cb, k->fd, EV_READ);
    ev_io_init(&k->ww, conn_ww_cb, k->fd, EV_WRITE);
    k->rw.data = k->ww.data = k;
    ev_io_start(loop, &k->rw);
    ev_io_start(loop, &k->ww);
}

static void c_close(struct vx_circuit *c, int err, void *arg)
{
    struct conn *k = arg;
    k->closed = 1;
    k->close_err = err;
    k->c = NULL;
}

static const struct vx_circuit_cbs ccbs = {c_open, c_close};

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

static struct vx_circuit_node node_of(int i)
{
    struct vx_circuit_node n;
    memset(&n, 0, sizeof(n));
    memcpy(n.pk, nodes[i].id.pk, 32);
    memcpy(&n.addr, &nodes[i].addr, nodes[i].addrlen);
    n.addrlen = nodes[i].addrlen;
    return n;
}

static void start_conn(struct conn *k, unsigned hops, const int *path, const char *svc, int auth,
                       uint64_t bytes)
{
    struct vx_circuit_node rel[VX_CIRCUIT_MAX_HOPS];
    struct vx_circuit_req req = {
            .dest = node_of(DEST), .service = svc, .port = 7, .auth = auth, .hops = hops};
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->to_send = bytes;
    if (path) {
        for (unsigned i = 0; i + 1 < hops; i++)
            rel[i] = node_of(path[i]);
        req.relays = rel;
    }
    int err;
    k->open_ms = vx_time_mono_ms();
    k->c = vx_circuit_connect(nodes[0].r, &req, &ccbs, k, &err);
    assert_non_null(k->c);
    pending_conns++;
}

static void finish_conn(struct conn *k)
{
    /* A conn often lives on the test's stack: a watcher left in the loop
     * would be linked into the next test's fd list (a cycle in libev). */
    ev_io_stop(loop, &k->rw);
    ev_io_stop(loop, &k->ww);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

static void echo_hops(unsigned hops, uint64_t bytes)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0; /* everything is on 127.0.0.1 */
    net_up(&rc);
    struct conn k;
    start_conn(&k, hops, NULL, "echo", 0, bytes);
    run_loop(30);
    assert_int_equal(k.open_err, 0);
    assert_true(k.eof);
    assert_false(k.bad);
    assert_int_equal(k.received, bytes);
    /* the circuit ends cleanly once both directions are done */
    run_loop(0.3);
    assert_true(k.closed);
    assert_int_equal(k.close_err, 0);
    struct vx_relay_stats st;
    unsigned used = 0;
    for (int i = 1; i < NODES; i++) {
        vx_relay_get_stats(nodes[i].r, &st);
        used += st.circuits_total > 0;
        if (i != DEST && st.circuits_total)
            assert_true(st.bytes_relayed >= bytes); /* middle relays carried it */
        assert_int_equal(st.circuits, 0);           /* DESTROY reached every hop */
        assert_int_equal(st.crypto_failures, 0);
    }
    assert_int_equal(used, hops);
    vx_relay_get_stats(nodes[DEST].r, &st);
    assert_int_equal(st.exits, 1);
    finish_conn(&k);
    net_down();
}

static void test_circuit_1hop(void **state)
{
    echo_hops(1, 100000);
}

static void test_circuit_3hop(void **state)
{
    echo_hops(3, 4u << 20);
}

static void test_circuit_5hop(void **state)
{
    echo_hops(5, 1u << 20);
}

static void test_circuit_many(void **state)
{
    /* 20 concurrent 3-hop circuits share the relays */
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    static struct conn k[20];
    for (int i = 0; i < 20; i++)
        start_conn(&k[i], 3, NULL, "echo", 0, 50000 + (uint64_t)i * 777);
    run_loop(30);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(k[i].open_err, 0);
        assert_int_equal(k[i].received, 50000 + (uint64_t)i * 777);
        assert_false(k[i].bad);
        finish_conn(&k[i]);
    }
    net_down();
}

static void test_circuit_auth(void **state)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    struct conn k1, k2, k3;
    start_conn(&k1, 3, NULL, "private", 1, 1000); /* signed: allowed */
    start_conn(&k2, 3, NULL, "private", 0, 1000); /* anonymous: denied */
    start_conn(&k3, 3, NULL, "nosuch", 0, 1000);  /* not published */
    run_loop(20);
    assert_int_equal(k1.open_err, 0);
    assert_int_equal(k1.received, 1000);
    assert_int_equal(k2.open_err, VX_ERR_DENIED);
    assert_int_equal(k2.attempts, 1); /* the destination's answer is final */
    assert_int_equal(k3.open_err, VX_ERR_NOTFOUND);
    finish_conn(&k1);
    net_down();
}

/* a direct stream to a service, for the route policy */
static int direct_err = 1;
static void direct_open_cb(struct vx_stream *s, int err, void *arg)
{
    direct_err = err;
    if (err == 0)
        vx_stream_close(s, VX_ERR_CLOSED);
    ev_break(loop, EVBREAK_ALL);
}

static int direct_open(const char *service)
{
    static const struct vx_stream_cbs cbs = {direct_open_cb, NULL};
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 7};
    int err;
    snprintf(tgt.name, sizeof(tgt.name), "%s", service);
    direct_err = 1;
    struct vx_stream *s = vx_transport_open(nodes[0].t, nodes[DEST].id.node_id,
                                            (struct sockaddr *)&nodes[DEST].addr,
                                            nodes[DEST].addrlen, &tgt, &cbs, NULL, &err);
    if (!s)
        return err;
    run_loop(10);
    return direct_err;
}

/* route: relay takes circuits, refuses direct streams; route: direct the
 * other way round; both answers are final (no retry over other relays) */
static void test_route_policy(void **state)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    struct conn k1, k2;
    start_conn(&k1, 3, NULL, "relayonly", 0, 1000);
    start_conn(&k2, 3, NULL, "directonly", 0, 1000);
    run_loop(20);
    assert_int_equal(k1.open_err, 0);
    assert_int_equal(k1.received, 1000);
    assert_int_equal(k2.open_err, VX_ERR_ROUTE);
    assert_int_equal(k2.attempts, 1);
    finish_conn(&k1);
    assert_int_equal(direct_open("relayonly"), VX_ERR_ROUTE);
    assert_int_equal(direct_open("directonly"), 0);
    assert_int_equal(direct_open("echo"), 0);
    net_down();
}

static void test_circuit_wrong_key(void **state)
{
    /* an explicit path whose second relay's key is not the node at that
     * address: the handshake through hop 1 must fail */
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    struct vx_circuit_node rel[2] = {node_of(1), node_of(2)};
    memcpy(&rel[1].addr, &nodes[3].addr, nodes[3].addrlen); /* node 3 answers for node 2 */
    struct vx_circuit_req req = {
            .dest = node_of(DEST), .service = "echo", .port = 7, .hops = 3, .relays = rel};
    struct conn k;
    memset(&k, 0, sizeof(k));
    k.fd = -1;
    int err;
    k.c = vx_circuit_connect(nodes[0].r, &req, &ccbs, &k, &err);
    assert_non_null(k.c);
    pending_conns++;
    run_loop(15);
    /* the transport of hop 1 already refuses the wrong node ID */
    assert_true(k.open_err == VX_ERR_UNREACH || k.open_err == VX_ERR_CRYPTO ||
                k.open_err == VX_ERR_PEER_ID);
    net_down();
}

static void test_relay_disabled_and_limits(void **state)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    /* node 1 does not relay: EXTEND through it fails with a reason */
    struct vx_relay_conf off = rc;
    off.enabled = 0;
    vx_relay_set_conf(nodes[1].r, &off);
    int path[2] = {1, 2};
    struct conn k;
    start_conn(&k, 3, path, "echo", 0, 10);
    run_loop(15);
    assert_int_equal(k.open_err, VX_ERR_UNREACH);
    struct vx_relay_stats st;
    vx_relay_get_stats(nodes[1].r, &st);
    assert_int_equal(st.refused_disabled, 1);
    /* ... but it still serves as the last hop of a direct circuit? node 1
     * has no services; a limit of 0 circuits-per-prev on node 2 refuses */
    struct vx_relay_conf lim = rc;
    lim.max_circuits = 1;
    vx_relay_set_conf(nodes[2].r, &lim);
    struct conn a, b;
    int p2[2] = {2, 3}, p3[2] = {3, 2};
    start_conn(&a, 3, p2, "echo", 0, 200000);
    start_conn(&b, 3, p3, "echo", 0, 200000);
    run_loop(20);
    /* one of them got node 2's only slot */
    assert_true((a.open_err == 0) != (b.open_err == 0));
    assert_true(a.open_err == VX_ERR_LIMIT || b.open_err == VX_ERR_LIMIT);
    vx_relay_get_stats(nodes[2].r, &st);
    assert_int_equal(st.refused_limit, 1);
    finish_conn(&a);
    finish_conn(&b);
    net_down();
}

static void test_failover(void **state)
{
    /* two of the five relays are dead before the build: failover must find
     * live ones within the attempts */
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    rc.setup_timeout_ms = 2000;
    rc.attempts = 3;
    net_up(&rc);
    vx_relay_set_conf(nodes[0].r, &rc);
    node_kill(2);
    node_kill(4);
    static struct conn k[20];
    int ok = 0, retried = 0;
    for (int i = 0; i < 20; i++)
        start_conn(&k[i], 3, NULL, "echo", 0, 5000);
    run_loop(30);
    for (int i = 0; i < 20; i++) {
        ok += k[i].open_err == 0 && k[i].received == 5000;
        retried += k[i].attempts > 1;
        finish_conn(&k[i]);
    }
    printf("failover: %d/20 circuits up, %d needed a retry\n", ok, retried);
    /* 3 of 5 live relays, 2 picked per attempt, dead ones avoided after
     * failing: every build succeeds within 3 attempts */
    assert_int_equal(ok, 20);
    assert_true(retried > 0);
    net_down();
}

/* ------------------------------------------------------------------ */
/* failover with stuck relays: a relay in a child process of its own, which
 * the test freezes with SIGSTOP as a hung vx6d would be */

struct proc {
    pid_t pid;
    struct vx_identity id;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

static void proc_accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    if (tgt->kind == VX_TARGET_RELAY)
        vx_relay_accept(s, tgt, arg);
    else
        vx_stream_close(s, VX_ERR_REFUSED);
}

static void proc_start(struct proc *p, uint8_t seed)
{
    int pp[2];
    mkid(&p->id, seed);
    assert_int_equal(pipe(pp), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
        struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        close(pp[0]);
#ifdef TEST_CIRCUIT_QUIC
        struct vx_transport *t = vx_transport_quic_new(l, &p->id, NULL);
#else
        struct vx_transport *t = vx_transport_tcp_new(l, &p->id, NULL);
#endif
        if (vx_transport_listen(t, (struct sockaddr *)&la, sizeof(la)) < 0)
            _exit(1);
        p->addrlen = sizeof(p->addr);
#ifdef TEST_CIRCUIT_QUIC
        vx_transport_quic_local_addr(t, &p->addr, &p->addrlen);
#else
        vx_transport_tcp_local_addr(t, &p->addr, &p->addrlen);
#endif
        struct vx_relay *r = vx_relay_new(l, t, &p->id, NULL);
        vx_transport_set_accept(t, proc_accept_cb, r);
        if (write(pp[1], &p->addr, sizeof(p->addr)) != (ssize_t)sizeof(p->addr) ||
            write(pp[1], &p->addrlen, sizeof(p->addrlen)) != (ssize_t)sizeof(p->addrlen))
            _exit(1);
        close(pp[1]);
        ev_run(l, 0);
        _exit(0);
    }
    close(pp[1]);
    assert_int_equal(read(pp[0], &p->addr, sizeof(p->addr)), sizeof(p->addr));
    assert_int_equal(read(pp[0], &p->addrlen, sizeof(p->addrlen)), sizeof(p->addrlen));
    close(pp[0]);
}

static void proc_freeze(struct proc *p)
{
    int st;
    assert_int_equal(kill(p->pid, SIGSTOP), 0);
    assert_int_equal(waitpid(p->pid, &st, WUNTRACED), p->pid); /* it is stopped now */
    assert_true(WIFSTOPPED(st));
}

static void proc_stop(struct proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

/* pool entries: a relay the registry rates well (fast, healthy, seen now:
 * it is picked first), or poorly (picked only when nothing else is left) */
static void cand_fill(struct vx_relay_cand *c, const struct vx_identity *id,
                      const struct sockaddr_storage *addr, socklen_t addrlen, int good)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->pk, id->pk, 32);
    memcpy(&c->addr, addr, addrlen);
    c->addrlen = addrlen;
    c->relay = 1;
    c->successes = good ? 100000 : 0;
    c->failures = good ? 0 : 100000;
    c->rtt_ms = good ? 1 : 0;
    c->last_seen = good ? vx_time_unix() : 0;
}

static void cand_node(struct vx_relay_cand *c, int i, int good)
{
    cand_fill(c, &nodes[i].id, &nodes[i].addr, nodes[i].addrlen, good);
}

static void cand_proc(struct vx_relay_cand *c, const struct proc *p, int good)
{
    cand_fill(c, &p->id, &p->addr, p->addrlen, good);
}

/* called after every loop iteration while a test needs it */
static void (*iter_fn)(void);
static ev_check iter_w;
static void iter_cb(struct ev_loop *l, ev_check *w, int revents)
{
    if (iter_fn)
        iter_fn();
}

static void iter_set(void (*fn)(void))
{
    iter_fn = fn;
    if (fn) {
        ev_check_init(&iter_w, iter_cb);
        ev_check_start(loop, &iter_w);
    } else {
        ev_check_stop(loop, &iter_w);
    }
}

static struct proc stuck[2];
static int stuck_frozen;
static struct conn *watched;

/* no relay process outlives the tests, even when one failed halfway */
static void procs_reap(void)
{
    for (int i = 0; i < 2; i++)
        proc_stop(&stuck[i]);
}

/* node 1 extended to the stuck relay: freeze it before the client's EXTEND
 * to the destination reaches it, and give the client another relay */
static void freeze_after_created(void)
{
    struct vx_relay_stats st;
    vx_relay_get_stats(nodes[1].r, &st);
    if (stuck_frozen || st.extends == 0)
        return;
    proc_freeze(&stuck[0]);
    stuck_frozen = 1;
    struct vx_relay_cand pool[3];
    cand_node(&pool[0], 1, 1);
    cand_proc(&pool[1], &stuck[0], 1);
    cand_node(&pool[2], 2, 0);
    vx_relay_set_pool(nodes[0].r, pool, 3);
}

static void start_guarded(struct conn *k, int guard)
{
    uint8_t g[1][VX_NODE_ID_LEN];
    memcpy(g[0], nodes[guard].id.node_id, VX_NODE_ID_LEN);
    struct vx_circuit_req req = {.dest = node_of(DEST),
                                 .service = "echo",
                                 .port = 7,
                                 .hops = 3,
                                 .guards = (const uint8_t(*)[VX_NODE_ID_LEN])g,
                                 .nguards = 1};
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->to_send = 1000;
    k->open_ms = vx_time_mono_ms();
    int err;
    k->c = vx_circuit_connect(nodes[0].r, &req, &ccbs, k, &err);
    assert_non_null(k->c);
    pending_conns++;
}

/* The last relay freezes right after it joined the circuit: the client's
 * EXTEND to the destination goes unanswered.  The client takes the last
 * relay (not the destination) for stuck, builds the circuit again without
 * it within about a step's timeout, and marks it down, so that the next
 * circuit does not pick it although the registry rates it best; once it
 * is the only candidate left it is taken anyway, and a hop it completes
 * clears the mark. */
static void test_failover_stuck_last_relay(void **state)
{
    struct vx_relay_conf rc;
    struct vx_relay_stats st;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    proc_start(&stuck[0], 200);
    stuck_frozen = 0;
    /* node 1 is the guard; the stuck relay is the only other candidate */
    struct vx_relay_cand pool[3];
    cand_node(&pool[0], 1, 1);
    cand_proc(&pool[1], &stuck[0], 1);
    vx_relay_set_pool(nodes[0].r, pool, 2);
    iter_set(freeze_after_created);
    struct conn k;
    start_guarded(&k, 1);
    run_loop(15);
    iter_set(NULL);
    assert_true(stuck_frozen);
    printf("stuck last relay: circuit open after %u attempts in %llu ms\n", k.attempts,
           (unsigned long long)k.open_ms);
    assert_int_equal(k.open_err, 0);
    assert_int_equal(k.received, 1000);
    assert_int_equal(k.attempts, 2);
    assert_memory_equal(k.ids[0], nodes[1].id.node_id, VX_NODE_ID_LEN);
    assert_memory_equal(k.ids[1], nodes[2].id.node_id, VX_NODE_ID_LEN); /* not the stuck one */
    /* one step's timeout (the floor on a fast network), then the rebuild */
    assert_true(k.open_ms >= VX_CIRCUIT_STEP_MIN_MS - 100);
    assert_true(k.open_ms < VX_CIRCUIT_STEP_MIN_MS + 1500);
    assert_true(vx_relay_down_left(nodes[0].r, stuck[0].id.node_id) > 20000);
    assert_int_equal(vx_relay_down_left(nodes[0].r, nodes[1].id.node_id), 0);
    vx_relay_get_stats(nodes[0].r, &st);
    assert_int_equal(st.client_down, 1);
    assert_int_equal(st.client_retries, 1);
    finish_conn(&k);

    /* the next circuits pass over it (the registry would pick it 3000:1) */
    for (int i = 0; i < 3; i++) {
        start_guarded(&k, 1);
        run_loop(10);
        assert_int_equal(k.open_err, 0);
        assert_int_equal(k.attempts, 1);
        assert_memory_equal(k.ids[1], nodes[2].id.node_id, VX_NODE_ID_LEN);
        assert_true(k.open_ms < 1000);
        finish_conn(&k);
    }

    /* alive again, and the only candidate: taken although marked down */
    assert_int_equal(kill(stuck[0].pid, SIGCONT), 0);
    cand_node(&pool[0], 1, 1);
    cand_proc(&pool[1], &stuck[0], 1);
    vx_relay_set_pool(nodes[0].r, pool, 2);
    assert_true(vx_relay_down_left(nodes[0].r, stuck[0].id.node_id) > 0);
    start_guarded(&k, 1);
    run_loop(10);
    assert_int_equal(k.open_err, 0);
    assert_int_equal(k.attempts, 1);
    assert_memory_equal(k.ids[1], stuck[0].id.node_id, VX_NODE_ID_LEN);
    assert_int_equal(vx_relay_down_left(nodes[0].r, stuck[0].id.node_id), 0);
    finish_conn(&k);
    proc_stop(&stuck[0]);
    net_down();
}

/* after the second attempt started, a live relay joins the pool */
static void add_live_relay(void)
{
    if (!watched || !watched->c || vx_circuit_attempts(watched->c) < 2 || stuck_frozen == 2)
        return;
    stuck_frozen = 2;
    struct vx_relay_cand pool[3];
    cand_proc(&pool[0], &stuck[0], 1);
    cand_proc(&pool[1], &stuck[1], 1);
    cand_node(&pool[2], 1, 0);
    vx_relay_set_pool(nodes[0].r, pool, 3);
}

/* Two frozen relays in a row: both attempts time out, and the third one
 * still opens the circuit within the request's timeout (10 s by default,
 * VX_PATH_DEFAULT_TIMEOUT_MS), because a step's timeout adapts to the
 * network (the floor here) and to the time left. */
static void test_failover_three_attempts(void **state)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    proc_start(&stuck[0], 201);
    proc_start(&stuck[1], 202);
    proc_freeze(&stuck[0]);
    proc_freeze(&stuck[1]);
    struct vx_relay_cand pool[2];
    cand_proc(&pool[0], &stuck[0], 1);
    cand_proc(&pool[1], &stuck[1], 1);
    vx_relay_set_pool(nodes[0].r, pool, 2);
    struct vx_circuit_req req = {
            .dest = node_of(DEST), .service = "echo", .port = 7, .hops = 2, .timeout_ms = 10000};
    struct conn k;
    memset(&k, 0, sizeof(k));
    k.fd = -1;
    k.to_send = 1000;
    k.open_ms = vx_time_mono_ms();
    int err;
    k.c = vx_circuit_connect(nodes[0].r, &req, &ccbs, &k, &err);
    assert_non_null(k.c);
    pending_conns++;
    watched = &k;
    stuck_frozen = 0;
    iter_set(add_live_relay);
    run_loop(20);
    iter_set(NULL);
    watched = NULL;
    printf("two stuck relays: circuit open after %u attempts in %llu ms\n", k.attempts,
           (unsigned long long)k.open_ms);
    assert_int_equal(k.open_err, 0);
    assert_int_equal(k.received, 1000);
    assert_int_equal(k.attempts, 3);
    assert_memory_equal(k.ids[0], nodes[1].id.node_id, VX_NODE_ID_LEN);
    assert_true(k.open_ms >= 2 * VX_CIRCUIT_STEP_MIN_MS - 200);
    assert_true(k.open_ms < 10000);
    finish_conn(&k);
    proc_stop(&stuck[0]);
    proc_stop(&stuck[1]);
    net_down();
}

/* Slow but alive: a relay whose RTT the registry knows to be 800 ms gets a
 * first step of 4 x 800 ms, more than the floor, and answers after 2.5 s
 * (SIGSTOP, then SIGCONT): the first attempt opens the circuit. */
static void thaw_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    kill(stuck[0].pid, SIGCONT);
}

static void test_failover_slow_relay(void **state)
{
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    proc_start(&stuck[0], 203);
    proc_freeze(&stuck[0]);
    struct vx_relay_cand pool[1];
    cand_proc(&pool[0], &stuck[0], 1);
    pool[0].rtt_ms = 800;
    vx_relay_set_pool(nodes[0].r, pool, 1);
    struct conn k;
    start_conn(&k, 2, NULL, "echo", 0, 1000);
    ev_timer thaw;
    ev_timer_init(&thaw, thaw_cb, 2.5, 0);
    ev_timer_start(loop, &thaw);
    run_loop(15);
    ev_timer_stop(loop, &thaw);
    printf("slow relay: circuit open after %u attempts in %llu ms\n", k.attempts,
           (unsigned long long)k.open_ms);
    assert_int_equal(k.open_err, 0);
    assert_int_equal(k.received, 1000);
    assert_int_equal(k.attempts, 1);
    assert_true(k.open_ms >= 2400);
    finish_conn(&k);
    proc_stop(&stuck[0]);
    net_down();
}

static void test_teardown_midstream(void **state)
{
    /* a middle relay dies while data flows: the client hears about it, the
     * other hops drop the circuit */
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    int path[4] = {1, 2, 3, 4};
    struct conn k;
    start_conn(&k, 5, path, "echo", 0, 1ull << 40); /* endless */
    break_at = 200000;                              /* run until data flows through all five hops */
    run_loop(30);
    break_at = 0;
    assert_int_equal(k.open_err, 0);
    assert_true(k.received > 0);
    node_kill(3);
    /* TCP neighbours see the reset at once; QUIC ones after the ICMP
     * probe (at least 1 s).  Bounded, with room for a loaded machine. */
    uint64_t t0 = vx_time_mono_ms();
    int held;
    do {
        run_loop(0.05);
        held = 0;
        for (int i = 1; i < NODES; i++) {
            struct vx_relay_stats st;
            if (nodes[i].dead)
                continue;
            vx_relay_get_stats(nodes[i].r, &st);
            held += st.circuits != 0;
        }
    } while ((!k.closed || held) && vx_time_mono_ms() - t0 < 10000);
    printf("teardown: %llu ms after the kill\n", (unsigned long long)(vx_time_mono_ms() - t0));
    assert_true(k.closed);
    assert_true(k.close_err < 0);
    assert_int_equal(held, 0);
    finish_conn(&k);
    net_down();
}

/* A middle relay that alters one cell: the next hop that opens the layer
 * under it (the destination forward, the client backward) detects it and
 * the whole circuit is torn down with reason CRYPTO. */
static unsigned tap_cells, tap_at;
static void tamper_tap(uint8_t *body, size_t len, int forward, void *arg)
{
    int *dir = arg;
    if (forward == *dir && ++tap_cells == tap_at)
        body[len / 2] ^= 0x01;
}

static void test_tamper(void **state)
{
    for (int dir = 1; dir >= 0; dir--) {
        struct vx_relay_conf rc;
        vx_relay_conf_defaults(&rc);
        rc.diversity = 0;
        net_up(&rc);
        int path[2] = {1, 2};
        struct conn k;
        struct vx_relay_stats st;
        tap_cells = 0;
        tap_at = 20; /* well after BEGIN/CONNECTED: data is flowing */
        vx_relay_set_tap(nodes[2].r, tamper_tap, &dir);
        start_conn(&k, 3, path, "echo", 0, 1ull << 40); /* endless */
        run_loop(20);
        run_loop(0.5); /* let the DESTROYs reach every hop */
        assert_int_equal(k.open_err, 0);
        assert_true(tap_cells >= tap_at);
        assert_true(k.closed);
        /* backward the client detects it itself; forward it hears the
         * destination's DESTROY (CRYPTO), or, where the transport resets a
         * stream before the cell went out (QUIC), only that its hop went */
        if (dir)
            assert_true(k.close_err == VX_ERR_CRYPTO || k.close_err == VX_ERR_UNREACH);
        else
            assert_int_equal(k.close_err, VX_ERR_CRYPTO);
        assert_false(k.bad); /* nothing altered reached the application */
        vx_relay_get_stats(nodes[DEST].r, &st);
        assert_int_equal(st.crypto_failures, dir ? 1 : 0);
        for (int i = 1; i < NODES; i++) {
            vx_relay_get_stats(nodes[i].r, &st);
            assert_int_equal(st.circuits, 0);
        }
        finish_conn(&k);
        net_down();
    }
}

static void test_governor(void **state)
{
    /* 200 KB/s total on the middle relay: 3 circuits of 100 KB need ~1.5 s,
     * and they finish close together (fair share) */
    struct vx_relay_conf rc;
    vx_relay_conf_defaults(&rc);
    rc.diversity = 0;
    net_up(&rc);
    struct vx_relay_conf g = rc;
    g.rate_total = 200000;
    g.burst_total = 20000;
    vx_relay_set_conf(nodes[2].r, &g);
    int path[2] = {1, 2};
    struct conn k[3];
    uint64_t t0 = vx_time_mono_ms();
    for (int i = 0; i < 3; i++)
        start_conn(&k[i], 3, path, "echo", 0, 50000);
    run_loop(20);
    uint64_t dt = vx_time_mono_ms() - t0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(k[i].open_err, 0);
        assert_int_equal(k[i].received, 50000);
        finish_conn(&k[i]);
    }
    /* 300 KB relayed both ways (>= 2 x 150 KB of cells) at 200 KB/s */
    printf("governor: 3 x 50 KB echoed through a 200 KB/s relay in %llu ms\n",
           (unsigned long long)dt);
    assert_true(dt >= 1200);
    net_down();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the test's own socket ends may see a closed peer */
    atexit(procs_reap);
    vx_log_set_level(VX_LOG_ERR);
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cell_vectors),
            cmocka_unit_test(test_handshake),
            cmocka_unit_test(test_layers),
            cmocka_unit_test(test_select),
            cmocka_unit_test(test_circuit_1hop),
            cmocka_unit_test(test_circuit_3hop),
            cmocka_unit_test(test_circuit_5hop),
            cmocka_unit_test(test_circuit_many),
            cmocka_unit_test(test_circuit_auth),
            cmocka_unit_test(test_route_policy),
            cmocka_unit_test(test_circuit_wrong_key),
            cmocka_unit_test(test_relay_disabled_and_limits),
            cmocka_unit_test(test_failover),
            cmocka_unit_test(test_failover_stuck_last_relay),
            cmocka_unit_test(test_failover_three_attempts),
            cmocka_unit_test(test_failover_slow_relay),
            cmocka_unit_test(test_teardown_midstream),
            cmocka_unit_test(test_tamper),
            cmocka_unit_test(test_governor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
