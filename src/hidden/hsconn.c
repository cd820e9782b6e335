/* hsconn.c — hidden services over relay circuits (see hsconn.h). */
#include "hidden/hsconn.h"

/* before wire/record.h: both name the TCP transport */
#include "path/circuit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "crypto/blind.h"
#include "hidden/descriptor.h"
#include "hidden/hsaddr.h"
#include "hidden/hsnet.h"
#include "hidden/intro.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "service/service.h"
#include "wire/cell.h"
#include "lib/xalloc.h"

#define REPLAY_MAX       4096
#define REFILL_FAIL_S    1.0  /* after an intro circuit failed to build */
#define REFILL_LOST_S    0.05 /* after an established one went away */
#define OWNER_BEGIN_S    30.0 /* a joined circuit must ask for a port within */
#define CLIENT_BEGIN_S   ((VX_SERVICE_CONNECT_TIMEOUT_MS + 2000) / 1000.0)
#define HS_BEGIN_NAME    "hs"
#define MAX_AUTH_ENTRIES 32

/* ---------------------------------------------------------------------- */
/* shared helpers */

static int ep_from_sa(const struct sockaddr_storage *sa, socklen_t len, struct vx_hs_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->transports = 1; /* TCP: circuits run over the TCP transport */
    if (sa->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        ep->family = 4;
        memcpy(ep->addr, &s4->sin_addr, 4);
        ep->port = ntohs(s4->sin_port);
    } else if (sa->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        ep->family = 6;
        memcpy(ep->addr, &s6->sin6_addr, 16);
        ep->port = ntohs(s6->sin6_port);
    } else {
        return VX_ERR_INVAL;
    }
    return ep->port ? 0 : VX_ERR_INVAL;
}

static int sa_from_ep(const struct vx_hs_endpoint *ep, struct sockaddr_storage *sa, socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    if (ep->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ep->addr, 4);
        s4->sin_port = htons(ep->port);
        *len = sizeof(*s4);
    } else if (ep->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, ep->addr, 16);
        s6->sin6_port = htons(ep->port);
        *len = sizeof(*s6);
    } else {
        return VX_ERR_INVAL;
    }
    return 0;
}

static const struct vx_relay_cand *pool_find(struct vx_relay *r, const uint8_t id[VX_NODE_ID_LEN])
{
    size_t n;
    const struct vx_relay_cand *p = vx_relay_pool(r, &n);
    for (size_t i = 0; i < n; i++)
        if (memcmp(p[i].id, id, VX_NODE_ID_LEN) == 0)
            return &p[i];
    return NULL;
}

static int id_in(const uint8_t (*ids)[VX_NODE_ID_LEN], size_t n, const uint8_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ids[i], id, VX_NODE_ID_LEN) == 0)
            return 1;
    return 0;
}

/* A random relay of the pool, not ourselves and not in excl (NULL: none). */
static const struct vx_relay_cand *pool_pick(struct vx_relay *r,
                                             const uint8_t (*excl)[VX_NODE_ID_LEN], size_t ne)
{
    size_t n, m = 0;
    const struct vx_relay_cand *p = vx_relay_pool(r, &n);
    const uint8_t *self = vx_relay_identity(r)->node_id;
    for (size_t i = 0; i < n; i++)
        m += p[i].relay && memcmp(p[i].id, self, VX_NODE_ID_LEN) && !id_in(excl, ne, p[i].id);
    if (m == 0)
        return NULL;
    uint32_t k = randombytes_uniform((uint32_t)m);
    for (size_t i = 0; i < n; i++) {
        if (!p[i].relay || !memcmp(p[i].id, self, VX_NODE_ID_LEN) || id_in(excl, ne, p[i].id))
            continue;
        if (k-- == 0)
            return &p[i];
    }
    return NULL;
}

/* Keep VX_HS_GUARDS guards that are still in the pool; pick new ones. */
static size_t guards_refresh(struct vx_relay *r, uint8_t (*g)[VX_NODE_ID_LEN], size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (pool_find(r, g[i]))
            memmove(g[k++], g[i], VX_NODE_ID_LEN);
    while (k < VX_HS_GUARDS) {
        const struct vx_relay_cand *c = pool_pick(r, (const uint8_t(*)[VX_NODE_ID_LEN])g, k);
        if (!c)
            break;
        memcpy(g[k++], c->id, VX_NODE_ID_LEN);
    }
    return k;
}

static void node_from_cand(struct vx_circuit_node *n, const struct vx_relay_cand *c)
{
    memset(n, 0, sizeof(*n));
    memcpy(n->pk, c->pk, VX_PK_LEN);
    memcpy(&n->addr, &c->addr, c->addrlen);
    n->addrlen = c->addrlen;
}

/* ---------------------------------------------------------------------- */
/* owner */

enum islot_state {
    IS_BUILDING,
    IS_UP,
};

struct islot {
    struct vx_hs_service *s;
    struct islot *next;
    enum islot_state st;
    struct vx_circuit *c;
    struct vx_identity auth; /* per-intro auth key (signs ESTABLISH_INTRO) */
    uint8_t enc_sk[32];
    struct vx_hs_intro info;
};

enum orend_state {
    OR_BUILDING,
    OR_JOINED,     /* RENDEZVOUS1 sent: waiting for the client's BEGIN */
    OR_CONNECTING, /* local target */
    OR_OPEN,
};

struct orend {
    struct vx_hs_service *s;
    struct orend *next, *prev;
    enum orend_state st;
    struct vx_circuit *c;
    struct vx_hs_keys keys;
    uint8_t rend1[VX_REND1_LEN];
    int fd;
    ev_io cw;
    ev_timer tw;
};

struct vx_hs_service {
    struct ev_loop *loop;
    struct vx_relay *r;
    struct vx_dht *dht;
    const struct vx_identity *svc;
    const struct vx_service_def *def;
    struct vx_hs_serve_conf conf;
    struct vx_hs_owner *owner;
    struct vx_replay *replay;
    char addr[VX_HSADDR_LEN + 1];
    uint8_t guards[VX_HS_GUARDS][VX_NODE_ID_LEN];
    size_t nguards;
    struct islot *slots;
    int initial_done;
    uint8_t pub_keys[VX_HSDESC_MAX_INTROS][32]; /* auth keys last published, in order */
    size_t npub;
    ev_timer refill;
    uint64_t started_ms;
    struct vx_hs_service_status st;
    struct orend *rends;
};

static void svc_fill(struct vx_hs_service *s);

static void refill_later(struct vx_hs_service *s, double after)
{
    if (ev_is_active(&s->refill) && ev_timer_remaining(s->loop, &s->refill) <= after)
        return;
    ev_timer_stop(s->loop, &s->refill);
    ev_timer_set(&s->refill, after, 0);
    ev_timer_start(s->loop, &s->refill);
}

static void refill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    svc_fill(w->data);
}

/* Publish the established intro points, in order, if they changed. */
static void svc_publish(struct vx_hs_service *s)
{
    struct vx_hs_intro in[VX_HSDESC_MAX_INTROS];
    size_t n = 0, building = 0;
    for (struct islot *x = s->slots; x; x = x->next) {
        if (x->st == IS_UP && n < VX_HSDESC_MAX_INTROS)
            in[n++] = x->info;
        building += x->st == IS_BUILDING;
    }
    if (!s->initial_done) {
        if (building)
            return; /* the first descriptor lists every intro point that came up */
        s->initial_done = 1;
    }
    if (n == 0)
        return;
    int same = n == s->npub;
    for (size_t i = 0; same && i < n; i++)
        same = memcmp(in[i].auth_key, s->pub_keys[i], 32) == 0;
    if (same)
        return;
    int r = vx_hs_owner_set_intros(s->owner, in, n);
    if (r < 0) {
        log_warn(LD_PATH, "hidden service %s: cannot publish its descriptor: %s", s->def->name,
                 vx_strerror(r));
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(s->pub_keys[i], in[i].auth_key, 32);
    s->npub = n;
    if (!s->st.published) {
        s->st.published = 1;
        s->st.reachable_unix = vx_time_unix();
        s->st.reachable_ms = vx_time_mono_ms() - s->started_ms;
        log_notice(LD_PATH, "hidden service %s: published with %zu intro points after %llu ms",
                   s->def->name, n, (unsigned long long)s->st.reachable_ms);
    } else {
        log_info(LD_PATH, "hidden service %s: intro points changed; descriptor republished",
                 s->def->name);
    }
}

static void islot_free(struct islot *x)
{
    struct vx_hs_service *s = x->s;
    struct islot **pp = &s->slots;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    vx_identity_wipe(&x->auth);
    sodium_memzero(x->enc_sk, sizeof(x->enc_sk));
    free(x);
}

/* The circuit is gone (already released by the circuit layer). */
static void islot_lost(struct islot *x, int err)
{
    struct vx_hs_service *s = x->s;
    int was_up = x->st == IS_UP;
    x->c = NULL;
    log_info(LD_PATH, "hidden service %s: intro circuit %s: %s", s->def->name,
             was_up ? "lost" : "failed", vx_strerror(err));
    islot_free(x);
    if (was_up) {
        s->st.intro_changes++;
        svc_publish(s); /* the next one moves up now */
        refill_later(s, REFILL_LOST_S);
    } else {
        svc_publish(s);
        refill_later(s, REFILL_FAIL_S);
    }
}

static void owner_introduce(struct vx_hs_service *s, struct islot *x, const uint8_t *d, size_t len);

static void islot_open(struct vx_circuit *c, int err, void *arg)
{
    struct islot *x = arg;
    if (err < 0) {
        islot_lost(x, err);
        return;
    }
    struct vx_cell_estintro e;
    uint8_t msg[VX_CELL_ESTINTRO_MSG], body[VX_CELL_ESTINTRO_LEN];
    memcpy(e.auth_key, x->auth.pk, 32);
    vx_cell_estintro_msg(vx_circuit_binding(c), e.auth_key, msg);
    vx_sign(&x->auth, msg, sizeof(msg), e.sig);
    vx_cell_estintro_encode(&e, body);
    int r = vx_circuit_send_cell(c, VX_RC_ESTABLISH_INTRO, body, sizeof(body));
    if (r < 0) {
        vx_circuit_close(c);
        islot_lost(x, r);
    }
}

static void islot_close(struct vx_circuit *c, int err, void *arg)
{
    islot_lost(arg, err ? err : VX_ERR_CLOSED);
}

static void islot_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *d, size_t len, void *arg)
{
    struct islot *x = arg;
    struct vx_hs_service *s = x->s;
    if (rcmd == VX_RC_INTRO_ESTABLISHED && x->st == IS_BUILDING) {
        x->st = IS_UP;
        svc_publish(s);
        return;
    }
    if (rcmd == VX_RC_INTRODUCE2 && x->st == IS_UP) {
        owner_introduce(s, x, d, len);
        return;
    }
    log_info(LD_PATH, "hidden service %s: unexpected cell %u on an intro circuit", s->def->name,
             rcmd);
}

static const struct vx_circuit_cbs islot_cbs = {islot_open, islot_close};

static int islot_start(struct vx_hs_service *s, const struct vx_relay_cand *node)
{
    struct islot *x = xcalloc(1, sizeof(*x));
    int err;
    x->s = s;
    x->st = IS_BUILDING;
    vx_identity_generate(&x->auth);
    randombytes_buf(x->enc_sk, sizeof(x->enc_sk));
    crypto_scalarmult_base(x->info.enc_key, x->enc_sk);
    memcpy(x->info.node_pk, node->pk, VX_PK_LEN);
    memcpy(x->info.node_id, node->id, VX_NODE_ID_LEN);
    memcpy(x->info.auth_key, x->auth.pk, VX_PK_LEN);
    if (ep_from_sa(&node->addr, node->addrlen, &x->info.ep[0]) < 0) {
        islot_free(x);
        return VX_ERR_INVAL;
    }
    x->info.n_endpoints = 1;
    struct vx_circuit_req req = {.hops = s->conf.intro_hops,
                                 .guards = (const uint8_t(*)[VX_NODE_ID_LEN])s->guards,
                                 .nguards = s->nguards};
    node_from_cand(&req.dest, node);
    /* append: a new intro point starts as the last (standby) one */
    struct islot **pp = &s->slots;
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    x->c = vx_circuit_connect(s->r, &req, &islot_cbs, x, &err);
    if (!x->c) {
        islot_free(x);
        return err;
    }
    vx_circuit_set_cell_cb(x->c, islot_cell);
    return 0;
}

/* Bring the intro points back to VX_HSDESC_MAX_INTROS. */
static void svc_fill(struct vx_hs_service *s)
{
    uint8_t used[VX_HSDESC_MAX_INTROS + 1][VX_NODE_ID_LEN];
    size_t n = 0;
    s->nguards = guards_refresh(s->r, s->guards, s->nguards);
    for (struct islot *x = s->slots; x; x = x->next)
        memcpy(used[n++], x->info.node_id, VX_NODE_ID_LEN);
    while (n < VX_HSDESC_MAX_INTROS) {
        const struct vx_relay_cand *c = pool_pick(s->r, (const uint8_t(*)[VX_NODE_ID_LEN])used, n);
        if (!c)
            break;
        memcpy(used[n++], c->id, VX_NODE_ID_LEN);
        if (islot_start(s, c) < 0)
            n--, refill_later(s, REFILL_FAIL_S);
    }
    if (n == 0) {
        log_warn_rl(LD_PATH, "hidden service %s: no relay can be an intro point yet", s->def->name);
        refill_later(s, REFILL_FAIL_S);
    }
    svc_publish(s);
}

/* ---- rendezvous (owner side) ---- */

static void orend_free(struct orend *o)
{
    struct vx_hs_service *s = o->s;
    if (o->prev)
        o->prev->next = o->next;
    else
        s->rends = o->next;
    if (o->next)
        o->next->prev = o->prev;
    ev_io_stop(s->loop, &o->cw);
    ev_timer_stop(s->loop, &o->tw);
    if (o->fd >= 0)
        close(o->fd);
    sodium_memzero(&o->keys, sizeof(o->keys));
    free(o);
}

static void orend_close(struct orend *o)
{
    if (o->c)
        vx_circuit_close(o->c);
    o->c = NULL;
    orend_free(o);
}

static void orend_reply(struct orend *o, uint8_t rcmd, uint8_t reason)
{
    int r = vx_circuit_send_cell(o->c, rcmd, &reason, rcmd == VX_RC_CONNECTED ? 0 : 1);
    if (r < 0)
        orend_close(o);
}

static void orend_connected(struct ev_loop *loop, ev_io *w, int revents)
{
    struct orend *o = w->data;
    int e = 0;
    socklen_t el = sizeof(e);
    ev_io_stop(loop, w);
    ev_timer_stop(loop, &o->tw);
    if (getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        e = errno;
    if (e) {
        close(o->fd);
        o->fd = -1;
        o->st = OR_JOINED;
        orend_reply(o, VX_RC_BEGIN_FAILED, e == ETIMEDOUT ? VX_CR_TIMEOUT : VX_CR_REFUSED);
        return;
    }
    int fd = o->fd;
    o->fd = -1;
    o->st = OR_OPEN;
    o->s->st.streams++;
    if (vx_circuit_send_cell(o->c, VX_RC_CONNECTED, NULL, 0) < 0) {
        close(fd);
        orend_close(o);
        return;
    }
    if (vx_circuit_splice(o->c, fd) < 0)
        orend_close(o);
}

static void orend_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct orend *o = w->data;
    if (o->st == OR_CONNECTING) {
        ev_io_stop(loop, &o->cw);
        close(o->fd);
        o->fd = -1;
        o->st = OR_JOINED;
        orend_reply(o, VX_RC_BEGIN_FAILED, VX_CR_TIMEOUT);
        return;
    }
    orend_close(o); /* nobody asked for a port */
}

static void orend_begin(struct orend *o, const uint8_t *d, size_t len)
{
    struct vx_hs_service *s = o->s;
    struct vx_cell_begin b;
    const struct sockaddr *target = NULL;
    socklen_t tlen = 0;
    if (o->st != OR_JOINED || vx_cell_begin_decode(d, len, &b) < 0) {
        orend_close(o);
        return;
    }
    if (vx_service_route(s->def, b.port, &target, &tlen) < 0) {
        orend_reply(o, VX_RC_BEGIN_FAILED, VX_CR_NOTFOUND);
        return;
    }
    int fd = socket(target->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, target, tlen) < 0 && errno != EINPROGRESS)) {
        if (fd >= 0)
            close(fd);
        orend_reply(o, VX_RC_BEGIN_FAILED, VX_CR_REFUSED);
        return;
    }
    o->fd = fd;
    o->st = OR_CONNECTING;
    ev_io_init(&o->cw, orend_connected, fd, EV_WRITE);
    o->cw.data = o;
    ev_io_start(s->loop, &o->cw);
    ev_timer_stop(s->loop, &o->tw);
    ev_timer_set(&o->tw, VX_SERVICE_CONNECT_TIMEOUT_MS / 1000.0, 0);
    ev_timer_start(s->loop, &o->tw);
}

static void orend_open(struct vx_circuit *c, int err, void *arg)
{
    struct orend *o = arg;
    if (err < 0) {
        o->s->st.rend_failed++;
        log_info(LD_PATH, "hidden service %s: no circuit to the rendezvous point: %s",
                 o->s->def->name, vx_strerror(err));
        o->c = NULL;
        orend_free(o);
        return;
    }
    int r = vx_circuit_send_cell(c, VX_RC_RENDEZVOUS1, o->rend1, sizeof(o->rend1));
    if (r == 0)
        r = vx_circuit_set_e2e(c, o->keys.s2c, o->keys.c2s, 0);
    sodium_memzero(&o->keys, sizeof(o->keys));
    if (r < 0) {
        orend_close(o);
        return;
    }
    o->st = OR_JOINED;
    o->s->st.rend_ok++;
    ev_timer_stop(o->s->loop, &o->tw);
    ev_timer_set(&o->tw, OWNER_BEGIN_S, 0);
    ev_timer_start(o->s->loop, &o->tw);
}

static void orend_closed(struct vx_circuit *c, int err, void *arg)
{
    struct orend *o = arg;
    if (err == 0 && o->st == OR_OPEN)
        o->s->st.closed_clean++;
    o->c = NULL;
    orend_free(o);
}

static void orend_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *d, size_t len, void *arg)
{
    struct orend *o = arg;
    if (rcmd == VX_RC_BEGIN) {
        orend_begin(o, d, len);
        return;
    }
    log_info(LD_PATH, "hidden service %s: unexpected cell %u from a client", o->s->def->name, rcmd);
    orend_close(o);
}

static const struct vx_circuit_cbs orend_cbs = {orend_open, orend_closed};

static void owner_introduce(struct vx_hs_service *s, struct islot *x, const uint8_t *d, size_t len)
{
    struct vx_intro_svc isv;
    struct vx_intro_req req;
    uint8_t X[32], T[32];
    uint64_t now = vx_time_unix(), per[2];
    size_t np = vx_blind_periods(now, per);
    int r = VX_ERR_CRYPTO;
    static struct vx_ratelim rl = VX_RATELIM_INIT(5000);

    memcpy(isv.auth_key, x->auth.pk, 32);
    memcpy(isv.b, x->enc_sk, 32);
    memcpy(isv.B, x->info.enc_key, 32);
    /* the client used the subcredential of the descriptor it holds: near a
     * period boundary that may be either period */
    for (size_t i = 0; i < np && r == VX_ERR_CRYPTO; i++) {
        if (vx_hs_subcredential(s->svc->pk, per[i], isv.subcred) < 0)
            break;
        r = vx_intro_open(&req, X, T, &isv, d, len, now, s->replay);
    }
    if (r == VX_ERR_REPLAY) {
        s->st.replays++;
        vx_log_rl(&rl, LD_PATH, VX_LOG_INFO, "hidden service %s: a replayed INTRODUCE dropped",
                  s->def->name);
        goto out;
    }
    if (r < 0) {
        s->st.bad_introduces++;
        vx_log_rl(&rl, LD_PATH, VX_LOG_INFO, "hidden service %s: an INTRODUCE dropped: %s",
                  s->def->name, vx_strerror(r));
        goto out;
    }
    s->st.introduces++;
    /* The rendezvous point need not be in our pool: the INTRODUCE names
     * its key (which authenticates it at the end of our circuit) and where
     * to reach it.  If the client picked this very node, the circuit comes
     * back to our own relay, which joins it like any other. */
    struct vx_circuit_req cr = {.hops = s->conf.profile + 1,
                                .guards = (const uint8_t(*)[VX_NODE_ID_LEN])s->guards,
                                .nguards = s->nguards};
    memcpy(cr.dest.pk, req.rend_pk, VX_PK_LEN);
    if (sa_from_ep(&req.ep[0], &cr.dest.addr, &cr.dest.addrlen) < 0) {
        s->st.rend_failed++;
        vx_log_rl(&rl, LD_PATH, VX_LOG_INFO,
                  "hidden service %s: no usable endpoint for the rendezvous point", s->def->name);
        goto out;
    }
    struct orend *o = xcalloc(1, sizeof(*o));
    o->s = s;
    o->fd = -1;
    o->st = OR_BUILDING;
    ev_init(&o->tw, orend_timeout);
    o->tw.data = o;
    ev_init(&o->cw, orend_connected);
    if (vx_rend_build(&o->keys, &isv, &req, X, T, NULL, o->rend1, sizeof(o->rend1)) < 0) {
        s->st.bad_introduces++;
        free(o);
        goto out;
    }
    o->next = s->rends;
    if (s->rends)
        s->rends->prev = o;
    s->rends = o;
    int err;
    o->c = vx_circuit_connect(s->r, &cr, &orend_cbs, o, &err);
    if (!o->c) {
        s->st.rend_failed++;
        orend_free(o);
        goto out;
    }
    vx_circuit_set_cell_cb(o->c, orend_cell);
out:
    sodium_memzero(&isv, sizeof(isv));
    sodium_memzero(&req, sizeof(req));
}

struct vx_hs_service *vx_hs_serve(struct vx_relay *relay, struct vx_dht *dht,
                                  const struct vx_identity *svc, const struct vx_service_def *def,
                                  const struct vx_hs_serve_conf *conf)
{
    struct vx_hs_service *s = xcalloc(1, sizeof(*s));
    s->loop = vx_relay_loop(relay);
    s->r = relay;
    s->dht = dht;
    s->svc = svc;
    s->def = def;
    if (conf)
        s->conf = *conf;
    if (!s->conf.profile)
        s->conf.profile = VX_HS_PROFILE_FAST;
    if (s->conf.profile + 1 > VX_CIRCUIT_MAX_HOPS - 1)
        s->conf.profile = VX_CIRCUIT_MAX_HOPS - 2;
    if (!s->conf.intro_hops)
        s->conf.intro_hops = VX_HS_INTRO_HOPS;
    s->started_ms = vx_time_mono_ms();
    s->st.started_unix = vx_time_unix();
    vx_hsaddr_format(svc->pk, s->addr, sizeof(s->addr));
    s->owner = vx_hs_owner_new(s->loop, dht, svc, def->name, s->conf.lifetime);
    if (s->conf.n_clients &&
        vx_hs_owner_set_clients(s->owner, s->conf.clients, s->conf.n_clients) < 0)
        log_warn(LD_PATH, "hidden service %s: too many authorized clients; none kept", def->name);
    s->conf.clients = NULL; /* copied: the caller's array need not outlive the call */
    s->replay = vx_replay_new(REPLAY_MAX);
    ev_init(&s->refill, refill_cb);
    s->refill.data = s;
    svc_fill(s);
    return s;
}

void vx_hs_service_free(struct vx_hs_service *s)
{
    if (!s)
        return;
    ev_timer_stop(s->loop, &s->refill);
    while (s->rends)
        orend_close(s->rends);
    while (s->slots) {
        struct islot *x = s->slots;
        if (x->c)
            vx_circuit_close(x->c);
        islot_free(x);
    }
    vx_hs_owner_free(s->owner);
    vx_replay_free(s->replay);
    free(s);
}

void vx_hs_service_status(const struct vx_hs_service *s, struct vx_hs_service_status *st)
{
    struct vx_hs_owner_stats os;
    size_t up = 0;
    *st = s->st;
    st->building = 0;
    for (const struct islot *x = s->slots; x; x = x->next) {
        up += x->st == IS_UP;
        st->building += x->st == IS_BUILDING;
    }
    st->active = up < VX_HSDESC_ACTIVE ? (unsigned)up : VX_HSDESC_ACTIVE;
    st->standby = (unsigned)(up - st->active);
    vx_hs_owner_stats(s->owner, &os);
    st->revision = os.revision;
    st->publishes = os.publishes;
}

const char *vx_hs_service_address(const struct vx_hs_service *s)
{
    return s->addr;
}

size_t vx_hs_service_intros(const struct vx_hs_service *s, uint8_t (*ids)[VX_NODE_ID_LEN],
                            size_t max)
{
    size_t n = 0;
    for (const struct islot *x = s->slots; x && n < max; x = x->next)
        if (x->st == IS_UP)
            memcpy(ids[n++], x->info.node_id, VX_NODE_ID_LEN);
    return n;
}

/* ---------------------------------------------------------------------- */
/* client */

struct auth_ent {
    uint8_t pk[VX_PK_LEN];
    uint8_t sk[VX_X25519_LEN];
};

struct vx_hs_connector {
    struct ev_loop *loop;
    struct vx_relay *r;
    struct vx_hs_client *hsc;
    struct vx_hs_connector_conf conf;
    uint8_t guards[VX_HS_GUARDS][VX_NODE_ID_LEN];
    size_t nguards;
    struct auth_ent auth[MAX_AUTH_ENTRIES];
    size_t nauth;
    struct vx_hs_conn *conns;
};

/* The client authorization key for service pk, or NULL. */
static const uint8_t *auth_sk(const struct vx_hs_connector *k, const uint8_t pk[VX_PK_LEN])
{
    for (size_t i = 0; i < k->nauth; i++)
        if (memcmp(k->auth[i].pk, pk, VX_PK_LEN) == 0)
            return k->auth[i].sk;
    return NULL;
}

enum hc_state {
    HC_START, /* resolving the descriptor, building the rendezvous circuit */
    HC_INTRO, /* introducing through intro point order[next - 1] */
    HC_REND2, /* ACK received: waiting for RENDEZVOUS2 */
    HC_BEGIN, /* end to end: BEGIN sent */
    HC_OPEN,
};

struct vx_hs_conn {
    struct vx_hs_connector *k;
    struct vx_hs_conn *next, *prev;
    struct vx_hs_conn_cbs cbs;
    void *arg;
    enum hc_state st;
    uint16_t port;
    uint8_t pk[VX_PK_LEN];
    char addr[VX_HSADDR_LEN + 1];
    uint64_t t0;
    struct vx_hs_conn_info info;
    /* descriptor */
    struct vx_hs_resolve *res;
    int have_desc;
    struct vx_hsdesc desc;
    uint8_t subcred[32];
    /* rendezvous */
    struct vx_circuit *rc;
    int rend_ready;
    uint8_t rend_tried[VX_HS_REND_CANDIDATES][VX_NODE_ID_LEN];
    struct vx_relay_cand rend;
    uint8_t cookie[VX_INTRO_COOKIE_LEN];
    /* introduction */
    struct vx_circuit *ic;
    int ic_open, introduced, last_timeout;
    unsigned order[VX_HSDESC_MAX_INTROS], norder, next_intro;
    struct vx_intro_client ist;
    ev_timer stage;    /* ACK, RENDEZVOUS2, CONNECTED; 0 s: a deferred error */
    ev_timer deadline; /* the whole setup */
    int pending_err;
    int refetched;       /* the descriptor was looked up again once */
    uint64_t failed_rev; /* revision whose intro points all failed */
};

static void hc_free(struct vx_hs_conn *hc)
{
    struct vx_hs_connector *k = hc->k;
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        k->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    ev_timer_stop(k->loop, &hc->stage);
    ev_timer_stop(k->loop, &hc->deadline);
    vx_hs_resolve_cancel(hc->res);
    if (hc->ic)
        vx_circuit_close(hc->ic);
    if (hc->rc)
        vx_circuit_close(hc->rc);
    vx_intro_client_wipe(&hc->ist);
    sodium_memzero(hc, sizeof(*hc));
    free(hc);
}

/* Setup failed: report once and release. */
static void hc_fail(struct vx_hs_conn *hc, int err)
{
    void (*cb)(struct vx_hs_conn *, int, void *) = hc->cbs.on_open;
    void *arg = hc->arg;
    log_info(LD_PATH, "hidden service %.12s…: connection failed: %s", hc->addr, vx_strerror(err));
    hc->info.total_ms = vx_time_mono_ms() - hc->t0;
    /* the callback may look at the info, then the connection is gone */
    if (cb)
        cb(hc, err, arg);
    hc_free(hc);
}

static void hc_stage(struct vx_hs_conn *hc, double secs)
{
    ev_timer_stop(hc->k->loop, &hc->stage);
    ev_timer_set(&hc->stage, secs, 0);
    ev_timer_start(hc->k->loop, &hc->stage);
}

static void hc_fail_later(struct vx_hs_conn *hc, int err)
{
    hc->pending_err = err;
    hc_stage(hc, 0);
}

static int hc_rend_start(struct vx_hs_conn *hc);
static void hc_next_intro(struct vx_hs_conn *hc);
static void hc_resolved(int err, const struct vx_hsdesc *d, void *arg);

/* ---- rendezvous circuit ---- */

static void hc_try_introduce(struct vx_hs_conn *hc)
{
    struct vx_intro_req req;
    struct vx_hs_endpoint ep;
    uint8_t msg[VX_INTRO_LEN];
    if (hc->st != HC_INTRO || !hc->rend_ready || !hc->ic_open || hc->introduced)
        return;
    const struct vx_hs_intro *in = &hc->desc.intros[hc->order[hc->next_intro - 1]];
    ep_from_sa(&hc->rend.addr, hc->rend.addrlen, &ep);
    vx_intro_req_fill(&req, vx_time_unix(), hc->rend.pk, &ep, 1);
    memcpy(req.cookie, hc->cookie, sizeof(req.cookie));
    int r = vx_intro_build(&hc->ist, &req, in, hc->subcred, NULL, msg, sizeof(msg));
    sodium_memzero(&req, sizeof(req));
    if (r == 0)
        r = vx_circuit_send_cell(hc->ic, VX_RC_INTRODUCE1, msg, sizeof(msg));
    if (r < 0) {
        vx_circuit_close(hc->ic);
        hc->ic = NULL;
        hc_next_intro(hc);
        return;
    }
    hc->introduced = 1;
    hc_stage(hc, VX_HS_INTRO_ACK_MS / 1000.0);
}

static void hc_rend_open(struct vx_circuit *c, int err, void *arg)
{
    struct vx_hs_conn *hc = arg;
    if (err < 0) {
        hc->rc = NULL;
        log_info(LD_PATH, "hidden service: rendezvous candidate %u failed: %s", hc->info.rend_tried,
                 vx_strerror(err));
        if (hc->info.rend_tried >= VX_HS_REND_CANDIDATES || (err = hc_rend_start(hc)) < 0)
            hc_fail(hc, VX_ERR_REND_FAILED);
        return;
    }
    int r = vx_circuit_send_cell(c, VX_RC_ESTABLISH_REND, hc->cookie, sizeof(hc->cookie));
    if (r < 0) {
        vx_circuit_close(c);
        hc->rc = NULL;
        hc_fail(hc, VX_ERR_REND_FAILED);
    }
}

static void hc_rend_closed(struct vx_circuit *c, int err, void *arg)
{
    struct vx_hs_conn *hc = arg;
    hc->rc = NULL;
    if (hc->st == HC_OPEN) {
        void (*cb)(struct vx_hs_conn *, int, void *) = hc->cbs.on_close;
        void *a = hc->arg;
        if (cb)
            cb(hc, err, a);
        hc_free(hc);
        return;
    }
    /* before the introduction another rendezvous point can still serve */
    if (!hc->introduced && hc->st <= HC_INTRO && hc->info.rend_tried < VX_HS_REND_CANDIDATES) {
        hc->rend_ready = 0;
        if (hc_rend_start(hc) == 0)
            return;
    }
    hc_fail(hc, VX_ERR_REND_FAILED);
}

static void hc_send_begin(struct vx_hs_conn *hc)
{
    struct vx_cell_begin b;
    uint8_t bb[VX_CELL_BEGIN_MAX];
    size_t blen = 0;
    memset(&b, 0, sizeof(b));
    b.port = hc->port;
    strcpy(b.name, HS_BEGIN_NAME);
    if (vx_cell_begin_encode(&b, bb, sizeof(bb), &blen) < 0 ||
        vx_circuit_send_cell(hc->rc, VX_RC_BEGIN, bb, blen) < 0) {
        hc_fail(hc, VX_ERR_REND_FAILED);
        return;
    }
    hc->st = HC_BEGIN;
    hc_stage(hc, CLIENT_BEGIN_S);
}

static void hc_rend_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *d, size_t len,
                         void *arg)
{
    struct vx_hs_conn *hc = arg;
    struct vx_hs_keys keys;
    switch (rcmd) {
    case VX_RC_REND_ESTABLISHED:
        if (hc->rend_ready)
            break;
        hc->rend_ready = 1;
        hc->info.rend_ms = vx_time_mono_ms() - hc->t0;
        hc_try_introduce(hc);
        return;
    case VX_RC_RENDEZVOUS2:
        if (!hc->introduced || (hc->st != HC_INTRO && hc->st != HC_REND2))
            break;
        if (vx_rend_finish(&keys, &hc->ist, d, len) < 0) {
            log_warn_rl(LD_PATH, "hidden service: RENDEZVOUS2 does not prove the service's key");
            hc_fail(hc, VX_ERR_REND_FAILED);
            return;
        }
        /* the ACK may still be on its way: the intro circuit is done anyway */
        if (hc->ic)
            vx_circuit_close(hc->ic);
        hc->ic = NULL;
        int r = vx_circuit_set_e2e(c, keys.c2s, keys.s2c, 1);
        sodium_memzero(&keys, sizeof(keys));
        if (r < 0) {
            hc_fail(hc, VX_ERR_REND_FAILED);
            return;
        }
        hc_send_begin(hc);
        return;
    case VX_RC_CONNECTED:
        if (hc->st != HC_BEGIN)
            break;
        ev_timer_stop(hc->k->loop, &hc->stage);
        ev_timer_stop(hc->k->loop, &hc->deadline);
        hc->st = HC_OPEN;
        hc->info.total_ms = vx_time_mono_ms() - hc->t0;
        hc->cbs.on_open(hc, 0, hc->arg);
        return;
    case VX_RC_BEGIN_FAILED:
        if (hc->st != HC_BEGIN)
            break;
        hc_fail(hc, vx_cell_reason_to_err(len == 1 ? d[0] : 0));
        return;
    default:
        break;
    }
    log_info(LD_PATH, "hidden service: unexpected cell %u on a rendezvous circuit", rcmd);
    hc_fail(hc, VX_ERR_REND_FAILED);
}

static const struct vx_circuit_cbs hc_rend_cbs = {hc_rend_open, hc_rend_closed};

/* Build a circuit to the next rendezvous candidate with a fresh cookie. */
static int hc_rend_start(struct vx_hs_conn *hc)
{
    struct vx_hs_connector *k = hc->k;
    int err;
    const struct vx_relay_cand *rp =
            pool_pick(k->r, (const uint8_t(*)[VX_NODE_ID_LEN])hc->rend_tried, hc->info.rend_tried);
    if (!rp)
        return VX_ERR_UNREACH;
    memcpy(hc->rend_tried[hc->info.rend_tried++], rp->id, VX_NODE_ID_LEN);
    hc->rend = *rp;
    memcpy(hc->info.rend_id, rp->id, VX_NODE_ID_LEN);
    randombytes_buf(hc->cookie, sizeof(hc->cookie));
    struct vx_circuit_req req = {.hops = k->conf.profile + 1,
                                 .guards = (const uint8_t(*)[VX_NODE_ID_LEN])k->guards,
                                 .nguards = k->nguards};
    node_from_cand(&req.dest, rp);
    hc->rc = vx_circuit_connect(k->r, &req, &hc_rend_cbs, hc, &err);
    if (!hc->rc)
        return err;
    vx_circuit_set_cell_cb(hc->rc, hc_rend_cell);
    return 0;
}

/* ---- introduction circuit ---- */

static void hc_intro_open(struct vx_circuit *c, int err, void *arg)
{
    struct vx_hs_conn *hc = arg;
    if (err < 0) {
        hc->ic = NULL;
        hc->last_timeout = err == VX_ERR_TIMEOUT;
        hc_next_intro(hc);
        return;
    }
    hc->ic_open = 1;
    hc_try_introduce(hc);
}

static void hc_intro_closed(struct vx_circuit *c, int err, void *arg)
{
    struct vx_hs_conn *hc = arg;
    hc->ic = NULL;
    if (hc->st == HC_INTRO) {
        hc->last_timeout = 0;
        hc_next_intro(hc);
    }
}

static void hc_intro_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *d, size_t len,
                          void *arg)
{
    struct vx_hs_conn *hc = arg;
    uint8_t status = VX_CELL_ACK_INVALID;
    if (rcmd != VX_RC_INTRODUCE_ACK || !hc->introduced || vx_cell_ack_decode(d, len, &status) < 0 ||
        status != VX_CELL_ACK_OK) {
        log_info(LD_PATH, "hidden service: intro point %u refused the introduction (%u)",
                 hc->next_intro, status);
        vx_circuit_close(c);
        hc->ic = NULL;
        hc->last_timeout = 0;
        hc_next_intro(hc);
        return;
    }
    vx_circuit_close(c);
    hc->ic = NULL;
    if (hc->st != HC_INTRO)
        return; /* RENDEZVOUS2 was faster than the ACK */
    hc->st = HC_REND2;
    hc->info.intro_ms = vx_time_mono_ms() - hc->t0;
    hc_stage(hc, VX_HS_REND_WAIT_MS / 1000.0);
}

static const struct vx_circuit_cbs hc_intro_cbs = {hc_intro_open, hc_intro_closed};

/* Introduce through the next intro point (active ones first). */
static void hc_next_intro(struct vx_hs_conn *hc)
{
    struct vx_hs_connector *k = hc->k;
    int err;
    hc->ic_open = 0;
    hc->introduced = 0;
    ev_timer_stop(k->loop, &hc->stage);
    vx_intro_client_wipe(&hc->ist);
    while (hc->next_intro < hc->norder) {
        const struct vx_hs_intro *in = &hc->desc.intros[hc->order[hc->next_intro++]];
        struct vx_circuit_req req = {.hops = VX_HS_INTRO_HOPS,
                                     .guards = (const uint8_t(*)[VX_NODE_ID_LEN])k->guards,
                                     .nguards = k->nguards};
        hc->info.intros_tried++;
        memcpy(hc->info.intro_id, in->node_id, VX_NODE_ID_LEN);
        memcpy(req.dest.pk, in->node_pk, VX_PK_LEN);
        if (sa_from_ep(&in->ep[0], &req.dest.addr, &req.dest.addrlen) < 0)
            continue;
        hc->ic = vx_circuit_connect(k->r, &req, &hc_intro_cbs, hc, &err);
        if (!hc->ic) {
            if (err == VX_ERR_NOTFOUND) {
                hc_fail(hc, VX_ERR_UNREACH); /* not enough relays at all */
                return;
            }
            continue;
        }
        vx_circuit_set_cell_cb(hc->ic, hc_intro_cell);
        return;
    }
    /* Every intro point failed.  A cached descriptor may be outdated (the
     * owner lost its intro circuits, say with its guard, and moved them):
     * drop it and look the service up again, once. */
    if (!hc->refetched && vx_hs_client_forget(k->hsc, hc->pk, hc->desc.o.revision)) {
        hc->refetched = 1;
        hc->failed_rev = hc->desc.o.revision;
        log_info(LD_PATH,
                 "hidden service %.12s…: no intro point of revision %llu answered; "
                 "looking the descriptor up again",
                 hc->addr, (unsigned long long)hc->failed_rev);
        hc->res = vx_hs_resolve(k->hsc, hc->addr, auth_sk(k, hc->pk), 0, k->conf.resolve_timeout_ms,
                                hc_resolved, hc, &err);
        if (hc->res)
            return;
    }
    hc_fail(hc, hc->last_timeout ? VX_ERR_INTRO_TIMEOUT : VX_ERR_INTRO_FAILED);
}

static void hc_resolved(int err, const struct vx_hsdesc *d, void *arg)
{
    struct vx_hs_conn *hc = arg;
    hc->res = NULL;
    hc->info.resolve_ms = vx_time_mono_ms() - hc->t0;
    if (err < 0) {
        hc_fail(hc, err);
        return;
    }
    if (hc->refetched && d->o.revision <= hc->failed_rev) {
        /* nothing newer than what already failed */
        hc_fail(hc, hc->last_timeout ? VX_ERR_INTRO_TIMEOUT : VX_ERR_INTRO_FAILED);
        return;
    }
    hc->desc = *d;
    hc->have_desc = 1;
    if (vx_hs_subcredential(hc->pk, d->o.period, hc->subcred) < 0) {
        hc_fail(hc, VX_ERR_BADADDR);
        return;
    }
    /* active intro points in random order, then the standby ones */
    hc->norder = 0;
    for (int pass = 0; pass < 2; pass++) {
        unsigned start = hc->norder;
        for (unsigned i = 0; i < d->n_intros; i++)
            if (!!(d->intros[i].flags & VX_HS_INTRO_STANDBY) == pass)
                hc->order[hc->norder++] = i;
        for (unsigned i = hc->norder - start; i > 1; i--) {
            unsigned j = randombytes_uniform(i), t = hc->order[start + i - 1];
            hc->order[start + i - 1] = hc->order[start + j];
            hc->order[start + j] = t;
        }
    }
    hc->st = HC_INTRO;
    hc->next_intro = 0;
    hc_next_intro(hc);
}

static void hc_stage_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_hs_conn *hc = w->data;
    if (hc->pending_err) {
        hc_fail(hc, hc->pending_err);
        return;
    }
    switch (hc->st) {
    case HC_INTRO: /* no ACK in time: the next intro point */
        log_info(LD_PATH, "hidden service: intro point %u did not answer in time", hc->next_intro);
        if (hc->ic)
            vx_circuit_close(hc->ic);
        hc->ic = NULL;
        hc->last_timeout = 1;
        hc_next_intro(hc);
        break;
    case HC_REND2:
        hc_fail(hc, VX_ERR_REND_FAILED);
        break;
    case HC_BEGIN:
        hc_fail(hc, VX_ERR_TIMEOUT);
        break;
    default:
        break;
    }
}

static void hc_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_hs_conn *hc = w->data;
    int err = VX_ERR_TIMEOUT;
    if (!hc->have_desc)
        err = VX_ERR_NOTFOUND;
    else if (hc->st == HC_INTRO)
        err = VX_ERR_INTRO_TIMEOUT;
    else if (hc->st == HC_REND2 || !hc->rend_ready)
        err = VX_ERR_REND_FAILED;
    hc_fail(hc, err);
}

struct vx_hs_conn *vx_hs_connect(struct vx_hs_connector *k, const char *address, uint16_t port,
                                 const struct vx_hs_conn_cbs *cbs, void *arg, int *err)
{
    int dummy, r;
    uint8_t pk[VX_PK_LEN];
    const uint8_t *sk = NULL;
    if (!err)
        err = &dummy;
    if (!k || !address || !cbs || !cbs->on_open) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    if ((r = vx_hsaddr_parse(address, pk)) < 0) {
        *err = r;
        return NULL;
    }
    sk = auth_sk(k, pk);
    struct vx_hs_conn *hc = xcalloc(1, sizeof(*hc));
    hc->k = k;
    hc->cbs = *cbs;
    hc->arg = arg;
    hc->port = port;
    hc->st = HC_START;
    hc->t0 = vx_time_mono_ms();
    memcpy(hc->pk, pk, VX_PK_LEN);
    vx_hsaddr_format(pk, hc->addr, sizeof(hc->addr));
    ev_init(&hc->stage, hc_stage_cb);
    hc->stage.data = hc;
    ev_timer_init(&hc->deadline, hc_deadline_cb, k->conf.timeout_ms / 1000.0, 0);
    hc->deadline.data = hc;
    hc->next = k->conns;
    if (k->conns)
        k->conns->prev = hc;
    k->conns = hc;
    ev_timer_start(k->loop, &hc->deadline);
    k->nguards = guards_refresh(k->r, k->guards, k->nguards);
    hc->res =
            vx_hs_resolve(k->hsc, hc->addr, sk, 0, k->conf.resolve_timeout_ms, hc_resolved, hc, &r);
    if (!hc->res) {
        hc_free(hc);
        *err = r;
        return NULL;
    }
    /* the rendezvous point does not depend on the descriptor: in parallel */
    if ((r = hc_rend_start(hc)) < 0)
        hc_fail_later(hc, r == VX_ERR_NOTFOUND ? VX_ERR_UNREACH : r);
    *err = 0;
    return hc;
}

int vx_hs_conn_splice(struct vx_hs_conn *hc, int fd)
{
    if (!hc || hc->st != HC_OPEN || !hc->rc) {
        if (fd >= 0)
            close(fd);
        return VX_ERR_INVAL;
    }
    return vx_circuit_splice(hc->rc, fd);
}

void vx_hs_conn_close(struct vx_hs_conn *hc)
{
    if (hc)
        hc_free(hc);
}

void vx_hs_conn_info(const struct vx_hs_conn *hc, struct vx_hs_conn_info *info)
{
    *info = hc->info;
}

struct vx_hs_connector *vx_hs_connector_new(struct vx_relay *relay, struct vx_dht *dht,
                                            const struct vx_hs_connector_conf *conf)
{
    struct vx_hs_connector *k = xcalloc(1, sizeof(*k));
    k->loop = vx_relay_loop(relay);
    k->r = relay;
    k->hsc = vx_hs_client_new(k->loop, dht);
    if (conf)
        k->conf = *conf;
    if (!k->conf.profile)
        k->conf.profile = VX_HS_PROFILE_FAST;
    if (k->conf.profile + 1 > VX_CIRCUIT_MAX_HOPS - 1)
        k->conf.profile = VX_CIRCUIT_MAX_HOPS - 2;
    if (!k->conf.timeout_ms)
        k->conf.timeout_ms = VX_HS_CONNECT_TIMEOUT_MS;
    return k;
}

void vx_hs_connector_free(struct vx_hs_connector *k)
{
    if (!k)
        return;
    while (k->conns)
        hc_free(k->conns);
    vx_hs_client_free(k->hsc);
    sodium_memzero(k->auth, sizeof(k->auth));
    free(k);
}

int vx_hs_connector_set_auth(struct vx_hs_connector *k, const char *address, const uint8_t *sk)
{
    uint8_t pk[VX_PK_LEN];
    int r = vx_hsaddr_parse(address, pk);
    if (r < 0)
        return r;
    for (size_t i = 0; i < k->nauth; i++) {
        if (memcmp(k->auth[i].pk, pk, VX_PK_LEN) != 0)
            continue;
        if (sk) {
            memcpy(k->auth[i].sk, sk, VX_X25519_LEN);
        } else {
            k->auth[i] = k->auth[--k->nauth];
            sodium_memzero(&k->auth[k->nauth], sizeof(k->auth[0]));
        }
        return 0;
    }
    if (!sk)
        return 0;
    if (k->nauth >= MAX_AUTH_ENTRIES)
        return VX_ERR_LIMIT;
    memcpy(k->auth[k->nauth].pk, pk, VX_PK_LEN);
    memcpy(k->auth[k->nauth].sk, sk, VX_X25519_LEN);
    k->nauth++;
    return 0;
}

void vx_hs_connector_flush(struct vx_hs_connector *k)
{
    vx_hs_client_flush(k->hsc);
}
