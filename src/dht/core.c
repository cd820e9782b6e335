/* core.c — the DHT protocol engine (sans-IO). */
#include "dht/core.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dht/lookup.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MAX_PENDING   4096
#define MAINT_MS      1000
#define RL_SLOTS      256
#define REPLICATE_MAX 4 /* replications started per maintenance round */

enum purpose {
    P_PING_BOOT = 1, /* bootstrap: address only */
    P_PING_CONFIRM,  /* a new contact heard from: does it answer? */
    P_PING_BUCKET,   /* a full bucket's least-recently-seen contact */
    P_LOOKUP,
    P_STORE,
};

enum lookup_kind {
    L_VALUE = 1,
    L_NODES,
    L_STORE,   /* find the k closest, then STORE there */
    L_REFRESH, /* bucket refresh / self lookup: routing table upkeep only */
};

struct storeop {
    struct storeop *next;
    uint8_t *enc;
    uint16_t len;
    unsigned outstanding;
    int stored;
    int started; /* STOREs sent (or none possible) */
    int done;
    vx_dht_publish_cb cb;
    void *arg;
};

struct clookup {
    struct clookup *next;
    int kind;
    int finished;
    int err;
    int from_cache;
    int has_want;
    uint8_t want[VX_PK_LEN];
    unsigned hops;
    unsigned messages;
    uint64_t started_ms;
    uint64_t deadline_ms;
    vx_dht_lookup_cb cb;
    void *arg;
    struct storeop *op;
    struct vx_record rec;
    struct vx_lookup lk;
};

struct pending {
    uint8_t txid[VX_DHT_TXID_LEN];
    uint8_t type;
    uint8_t purpose;
    uint8_t tries;
    uint8_t id_known;
    uint8_t id[VX_NODE_ID_LEN];
    struct vx_dhtaddr to;
    uint64_t sent_ms;
    uint64_t deadline_ms;
    struct clookup *lk;
    int slot;
    struct storeop *op;
    uint8_t *msg;
    uint16_t len;
};

struct value {
    uint8_t key[VX_DHT_KEY_LEN];
    struct vx_record rec;
    uint8_t *enc;
    uint16_t len;
    uint64_t replicate_at; /* unix s */
};

struct pub {
    uint8_t key[VX_DHT_KEY_LEN];
    struct vx_record rec;
    uint64_t last_unix;
};

struct rl_slot {
    uint8_t family;
    uint8_t prefix[8];
    uint32_t milli_tokens;
    uint64_t last_ms;
};

struct vx_dhtcore {
    vx_dht_lookup_observer_fn observer; /* vx_dhtcore_set_lookup_observer() */
    void *observer_arg;
    struct vx_dhtcore_conf conf;
    uint8_t id[VX_NODE_ID_LEN];
    const struct vx_identity *ident;
    struct vx_dhtcore_ops ops;
    void *ctx;
    uint64_t now_ms, now_unix;

    struct vx_rt *rt;

    struct pending *pend;
    size_t n_pend, cap_pend;
    uint8_t tx_key[crypto_shorthash_KEYBYTES];
    uint64_t tx_counter;

    struct clookup *lookups;
    size_t n_lookups;
    struct storeop *ops_list;

    struct value *vals;
    size_t n_vals, cap_vals;
    struct pub *pubs;
    size_t n_pubs, cap_pubs;

    uint8_t *self_rec;
    uint16_t self_rec_len;

    uint8_t secret[32], prev_secret[32];
    uint64_t secret_at_ms;
    struct rl_slot *rl;  /* STORE buckets */
    struct rl_slot *qrl; /* request buckets */

    uint64_t next_maint_ms;
    int self_lookup_done;
    uint64_t self_again_ms; /* repeat the self lookup while the table is small */
    uint64_t self_backoff_ms;
    int need_reap;

    struct vx_dhtcore_stats st;
};

static struct vx_ratelim rl_bad = VX_RATELIM_INIT(10000);
static struct vx_ratelim rl_flood = VX_RATELIM_INIT(10000);

void vx_dhtcore_conf_default(struct vx_dhtcore_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->k = 20;
    c->alpha = 3;
    c->prefix_limit = 2;
    c->request_timeout_ms = 700;
    c->retries = 1;
    c->lookup_timeout_ms = 4000;
    c->max_values = 8192;
    c->store_burst = 16;
    c->store_per_min = 30;
    c->query_burst = 0; /* off unless the embedder sets a rate (vx6d does) */
    c->query_per_s = 50;
    c->max_lookups = 256;
    c->token_rotate_s = 300;
    c->refresh_s = 900;
    c->republish_s = 1800;
    c->replicate_s = 3600;
    c->ping_interval_ms = 30000;
}

struct vx_dhtcore *vx_dhtcore_new(const struct vx_dhtcore_conf *conf,
                                  const uint8_t id[VX_NODE_ID_LEN], const struct vx_identity *ident,
                                  const struct vx_dhtcore_ops *ops, void *ctx)
{
    struct vx_dhtcore *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    if (conf)
        c->conf = *conf;
    else
        vx_dhtcore_conf_default(&c->conf);
    if (!c->conf.k || c->conf.k > VX_DHT_MAX_CONTACTS)
        c->conf.k = VX_DHT_MAX_CONTACTS;
    if (!c->conf.alpha)
        c->conf.alpha = 3;
    memcpy(c->id, id, VX_NODE_ID_LEN);
    c->ident = ident;
    c->ops = *ops;
    c->ctx = ctx;
    c->rt = vx_rt_new(id, c->conf.k, c->conf.prefix_limit);
    randombytes_buf(c->tx_key, sizeof(c->tx_key));
    randombytes_buf(&c->tx_counter, sizeof(c->tx_counter));
    randombytes_buf(c->secret, sizeof(c->secret));
    memcpy(c->prev_secret, c->secret, sizeof(c->secret));
    return c;
}

static void storeop_free(struct storeop *op)
{
    free(op->enc);
    free(op);
}

void vx_dhtcore_free(struct vx_dhtcore *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pend; i++)
        free(c->pend[i].msg);
    free(c->pend);
    while (c->lookups) {
        struct clookup *l = c->lookups;
        c->lookups = l->next;
        free(l);
    }
    while (c->ops_list) {
        struct storeop *op = c->ops_list;
        c->ops_list = op->next;
        storeop_free(op);
    }
    for (size_t i = 0; i < c->n_vals; i++)
        free(c->vals[i].enc);
    free(c->vals);
    free(c->pubs);
    free(c->self_rec);
    free(c->rl);
    free(c->qrl);
    vx_rt_free(c->rt);
    free(c);
}

void vx_dhtcore_set_time(struct vx_dhtcore *c, uint64_t now_ms, uint64_t now_unix)
{
    c->now_ms = now_ms;
    c->now_unix = now_unix;
    if (!c->next_maint_ms)
        c->next_maint_ms = now_ms + MAINT_MS;
    if (!c->secret_at_ms)
        c->secret_at_ms = now_ms;
}

const uint8_t *vx_dhtcore_id(const struct vx_dhtcore *c)
{
    return c->id;
}

const struct vx_rt *vx_dhtcore_rt(const struct vx_dhtcore *c)
{
    return c->rt;
}

/* ---- tokens and rate limits ------------------------------------------- */

static void make_token(const uint8_t secret[32], const struct vx_dhtaddr *a,
                       uint8_t out[VX_DHT_TOKEN_LEN])
{
    uint8_t buf[19];
    buf[0] = a->family;
    memcpy(buf + 1, a->ip, 16);
    buf[17] = (uint8_t)(a->port >> 8);
    buf[18] = (uint8_t)a->port;
    crypto_generichash(out, VX_DHT_TOKEN_LEN, buf, sizeof(buf), secret, 32);
}

static int token_valid(const struct vx_dhtcore *c, const struct vx_dhtaddr *a,
                       const uint8_t tok[VX_DHT_TOKEN_LEN])
{
    uint8_t t1[VX_DHT_TOKEN_LEN], t2[VX_DHT_TOKEN_LEN];
    make_token(c->secret, a, t1);
    make_token(c->prev_secret, a, t2);
    return sodium_memcmp(t1, tok, sizeof(t1)) == 0 || sodium_memcmp(t2, tok, sizeof(t2)) == 0;
}

/* Token bucket per source: IPv4 address or IPv6 /64, in the table *tab
 * (allocated on first use), burst tokens, refilled per_min per minute. */
static int bucket_ok(struct vx_dhtcore *c, struct rl_slot **tab, unsigned burst, uint64_t per_min,
                     const struct vx_dhtaddr *a)
{
    uint8_t pfx[8] = {0};
    uint32_t h = 2166136261u;
    struct rl_slot *s;
    uint64_t cap = (uint64_t)burst * 1000;

    if (!burst)
        return 1;
    if (!*tab) {
        *tab = calloc(RL_SLOTS, sizeof(**tab));
        if (!*tab)
            abort();
    }
    memcpy(pfx, a->ip, a->family == 4 ? 4 : 8);
    for (int i = 0; i < 8; i++)
        h = (h ^ pfx[i]) * 16777619u;
    s = &(*tab)[(h ^ a->family) % RL_SLOTS];
    if (s->family != a->family || memcmp(s->prefix, pfx, 8) != 0) {
        s->family = a->family;
        memcpy(s->prefix, pfx, 8);
        s->milli_tokens = (uint32_t)cap;
        s->last_ms = c->now_ms;
    }
    uint64_t refill = (c->now_ms - s->last_ms) * per_min / 60;
    s->last_ms = c->now_ms;
    uint64_t t = s->milli_tokens + refill;
    s->milli_tokens = (uint32_t)(t > cap ? cap : t);
    if (s->milli_tokens < 1000)
        return 0;
    s->milli_tokens -= 1000;
    return 1;
}

static int rate_ok(struct vx_dhtcore *c, const struct vx_dhtaddr *a)
{
    return bucket_ok(c, &c->rl, c->conf.store_burst, c->conf.store_per_min, a);
}

static int query_rate_ok(struct vx_dhtcore *c, const struct vx_dhtaddr *a)
{
    if (!c->conf.query_limit_loopback && vx_dhtaddr_is_loopback(a))
        return 1; /* a local process can do anything anyway */
    return bucket_ok(c, &c->qrl, c->conf.query_burst, (uint64_t)c->conf.query_per_s * 60, a);
}

/* ---- value store ------------------------------------------------------ */

static struct value *value_find(const struct vx_dhtcore *c, const uint8_t *key)
{
    for (size_t i = 0; i < c->n_vals; i++)
        if (memcmp(c->vals[i].key, key, VX_DHT_KEY_LEN) == 0)
            return &c->vals[i];
    return NULL;
}

static void value_del(struct vx_dhtcore *c, struct value *v)
{
    free(v->enc);
    *v = c->vals[--c->n_vals];
}

/* rec is verified; enc/len its encoding. */
static int value_put(struct vx_dhtcore *c, const struct vx_record *rec, const uint8_t *enc,
                     size_t len)
{
    uint8_t key[VX_DHT_KEY_LEN];
    struct value *v;
    int rc;

    vx_record_key(rec, key);
    v = value_find(c, key);
    if (v) {
        if (v->len == len && memcmp(v->enc, enc, len) == 0)
            return 0; /* the same record again (republication, replication) */
        if ((rc = vx_record_replaces(rec, &v->rec, c->now_unix)) < 0)
            return rc;
        free(v->enc);
    } else {
        if (c->n_vals >= c->conf.max_values) {
            /* Make room only by dropping an expired record. */
            for (size_t i = 0; i < c->n_vals; i++)
                if (c->vals[i].rec.expires <= c->now_unix) {
                    value_del(c, &c->vals[i]);
                    break;
                }
            if (c->n_vals >= c->conf.max_values)
                return VX_ERR_LIMIT;
        }
        if (c->n_vals == c->cap_vals) {
            c->cap_vals = c->cap_vals ? c->cap_vals * 2 : 8;
            c->vals = xreallocarray(c->vals, c->cap_vals, sizeof(*c->vals));
        }
        v = &c->vals[c->n_vals++];
        memcpy(v->key, key, sizeof(key));
        v->replicate_at = c->now_unix + c->conf.replicate_s;
    }
    v->rec = *rec;
    v->enc = xmalloc(len);
    memcpy(v->enc, enc, len);
    v->len = (uint16_t)len;
    return 0;
}

const struct vx_record *vx_dhtcore_get_value(const struct vx_dhtcore *c,
                                             const uint8_t key[VX_DHT_KEY_LEN])
{
    const struct value *v = value_find(c, key);
    return v && v->rec.expires > c->now_unix ? &v->rec : NULL;
}

/* ---- sending ---------------------------------------------------------- */

static void emit(struct vx_dhtcore *c, const struct vx_dhtaddr *to, const uint8_t *buf, size_t len)
{
    c->st.msgs_out++;
    c->ops.send(c->ctx, to, buf, len);
}

static void reply(struct vx_dhtcore *c, const struct vx_dhtaddr *to, struct vx_dhtmsg *m)
{
    uint8_t buf[VX_DHTMSG_MAX];
    int n;
    memcpy(m->sender, c->id, VX_NODE_ID_LEN);
    n = vx_dhtmsg_encode(m, buf, sizeof(buf));
    if (n < 0) {
        log_warn(LD_DHT, "cannot encode a %s reply: %s", vx_dhtmsg_type_name(m->type),
                 vx_strerror(n));
        return;
    }
    emit(c, to, buf, (size_t)n);
}

/* Start a request; returns its pending entry index or -1. */
static int request(struct vx_dhtcore *c, const struct vx_dhtaddr *to, const uint8_t *id,
                   struct vx_dhtmsg *m, int purpose)
{
    uint8_t buf[VX_DHTMSG_MAX];
    struct pending *p;
    int n;

    if (c->n_pend >= MAX_PENDING)
        return -1;
    memcpy(m->sender, c->id, VX_NODE_ID_LEN);
    c->tx_counter++;
    crypto_shorthash(m->txid, (const uint8_t *)&c->tx_counter, sizeof(c->tx_counter), c->tx_key);
    n = vx_dhtmsg_encode(m, buf, sizeof(buf));
    if (n < 0)
        return -1;
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 8;
        c->pend = xreallocarray(c->pend, c->cap_pend, sizeof(*c->pend));
    }
    p = &c->pend[c->n_pend];
    memset(p, 0, sizeof(*p));
    memcpy(p->txid, m->txid, VX_DHT_TXID_LEN);
    p->type = m->type;
    p->purpose = (uint8_t)purpose;
    p->tries = 1;
    if (id) {
        p->id_known = 1;
        memcpy(p->id, id, VX_NODE_ID_LEN);
    }
    p->to = *to;
    p->sent_ms = c->now_ms;
    p->deadline_ms = c->now_ms + c->conf.request_timeout_ms;
    p->slot = -1;
    p->msg = xmalloc((size_t)n);
    memcpy(p->msg, buf, (size_t)n);
    p->len = (uint16_t)n;
    emit(c, to, buf, (size_t)n);
    return (int)c->n_pend++;
}

static void send_ping(struct vx_dhtcore *c, const struct vx_dhtaddr *to, const uint8_t *id,
                      int purpose)
{
    struct vx_dhtmsg m;
    memset(&m, 0, sizeof(m));
    m.type = VX_DHT_PING;
    m.rec = c->self_rec;
    m.rec_len = c->self_rec_len;
    request(c, to, id, &m, purpose);
}

/* A node was heard from. */
static void note_contact(struct vx_dhtcore *c, const uint8_t *id, const struct vx_dhtaddr *addr,
                         int confirmed, uint32_t rtt)
{
    struct vx_rt_contact lrs;
    int r = vx_rt_update(c->rt, id, addr, confirmed, rtt, c->now_ms, c->conf.ping_interval_ms,
                         &lrs);
    if (r == VX_RT_ADDED && !confirmed)
        send_ping(c, addr, id, P_PING_CONFIRM);
    else if (r == VX_RT_PING)
        send_ping(c, &lrs.addr, lrs.id, P_PING_BUCKET);
}

/* A NODE record carried in PING/PONG: verify and pass on. */
static void learn_node_record(struct vx_dhtcore *c, const struct vx_dhtmsg *m)
{
    struct vx_record rec;
    int rc;
    if (!m->rec_len)
        return;
    rc = vx_record_parse(&rec, m->rec, m->rec_len, c->now_unix);
    if (rc == 0 &&
        (rec.type != VX_REC_NODE || memcmp(rec.u.node.node_id, m->sender, VX_NODE_ID_LEN) != 0))
        rc = VX_ERR_PEER_ID;
    if (rc < 0) {
        log_debug(LD_DHT, "ignoring a bad node record in %s: %s", vx_dhtmsg_type_name(m->type),
                  vx_strerror(rc));
        return;
    }
    if (c->ops.record_seen)
        c->ops.record_seen(c->ctx, &rec);
}

/* ---- lookups ---------------------------------------------------------- */

static void lookup_finish(struct vx_dhtcore *c, struct clookup *l, int err);

static void lookup_step(struct vx_dhtcore *c, struct clookup *l)
{
    int i;
    if (l->finished)
        return;
    while ((i = vx_lookup_next(&l->lk)) >= 0) {
        struct vx_lookup_cand *x = &l->lk.cand[i];
        struct vx_dhtmsg m;
        int pi;
        memset(&m, 0, sizeof(m));
        m.type = l->kind == L_VALUE ? VX_DHT_FIND_VALUE : VX_DHT_FIND_NODE;
        memcpy(m.target, l->lk.target, VX_NODE_ID_LEN);
        pi = request(c, &x->c.addr, x->c.id, &m, P_LOOKUP);
        if (pi < 0) {
            vx_lookup_failed(&l->lk, i);
            continue;
        }
        c->pend[pi].lk = l;
        c->pend[pi].slot = i;
        l->messages++;
    }
    if (vx_lookup_done(&l->lk))
        lookup_finish(c, l, l->kind == L_VALUE ? VX_ERR_NOTFOUND : 0);
}

static void storeop_sent(struct vx_dhtcore *c, struct storeop *op)
{
    op->started = 1;
    if (op->outstanding == 0) {
        op->done = 1;
        c->need_reap = 1;
    }
}

static void lookup_finish(struct vx_dhtcore *c, struct clookup *l, int err)
{
    if (l->finished)
        return;
    l->finished = 1;
    l->err = err;
    c->need_reap = 1;
    /* Late replies still feed the routing table, not this lookup. */
    for (size_t i = 0; i < c->n_pend; i++)
        if (c->pend[i].lk == l)
            c->pend[i].lk = NULL;
    if (l->kind == L_STORE && l->op) {
        int idx[VX_DHT_MAX_CONTACTS];
        size_t n = vx_lookup_results(&l->lk, idx, c->conf.k);
        for (size_t j = 0; j < n; j++) {
            struct vx_lookup_cand *x = &l->lk.cand[idx[j]];
            struct vx_dhtmsg m;
            int pi;
            if (!x->has_token)
                continue;
            memset(&m, 0, sizeof(m));
            m.type = VX_DHT_STORE;
            memcpy(m.token, x->token, VX_DHT_TOKEN_LEN);
            m.rec = l->op->enc;
            m.rec_len = l->op->len;
            pi = request(c, &x->c.addr, x->c.id, &m, P_STORE);
            if (pi >= 0) {
                c->pend[pi].op = l->op;
                l->op->outstanding++;
            }
        }
        storeop_sent(c, l->op);
        l->op = NULL;
    }
    if (l->kind == L_VALUE || l->kind == L_NODES) {
        if (err == 0)
            c->st.lookups_ok++;
        else
            c->st.lookups_failed++;
        if (c->observer)
            c->observer(c->now_ms - l->started_ms, err, c->observer_arg);
    }
}

static struct clookup *lookup_start(struct vx_dhtcore *c, int kind, const uint8_t *target)
{
    struct vx_dht_contact seeds[VX_DHT_MAX_CONTACTS];
    struct clookup *l;
    size_t n;

    if (c->n_lookups >= c->conf.max_lookups)
        return NULL;
    l = xmalloc(sizeof(*l));
    memset(l, 0, offsetof(struct clookup, lk));
    l->kind = kind;
    l->started_ms = c->now_ms;
    l->deadline_ms = c->now_ms + c->conf.lookup_timeout_ms;
    vx_lookup_init(&l->lk, target, c->id, c->conf.k, c->conf.alpha, c->conf.prefix_limit);
    l->next = c->lookups;
    c->lookups = l;
    c->n_lookups++;
    vx_rt_touch(c->rt, target, c->now_ms);
    n = vx_rt_closest(c->rt, target, seeds, c->conf.k, 0, NULL);
    for (size_t i = 0; i < n; i++)
        vx_lookup_add(&l->lk, &seeds[i], 1);
    return l;
}

static int want_ok(const struct clookup *l, const struct vx_record *r)
{
    return !l->has_want || memcmp(r->signer, l->want, VX_PK_LEN) == 0;
}

int vx_dhtcore_lookup(struct vx_dhtcore *c, const uint8_t key[VX_DHT_KEY_LEN],
                      const uint8_t *want_signer, vx_dht_lookup_cb cb, void *arg)
{
    struct clookup *l = lookup_start(c, L_VALUE, key);
    const struct value *v;
    if (!l)
        return VX_ERR_LIMIT;
    l->cb = cb;
    l->arg = arg;
    if (want_signer) {
        l->has_want = 1;
        memcpy(l->want, want_signer, VX_PK_LEN);
    }
    v = value_find(c, key);
    if (v && v->rec.expires > c->now_unix && want_ok(l, &v->rec)) {
        l->rec = v->rec;
        l->from_cache = 1;
        lookup_finish(c, l, 0);
        return 0;
    }
    if (c->ops.cache_get && c->ops.cache_get(c->ctx, key, &l->rec) == 0 &&
        vx_record_verify(&l->rec, c->now_unix) == 0 && want_ok(l, &l->rec)) {
        l->from_cache = 1;
        lookup_finish(c, l, 0);
        return 0;
    }
    lookup_step(c, l);
    return 0;
}

int vx_dhtcore_find_nodes(struct vx_dhtcore *c, const uint8_t target[VX_NODE_ID_LEN],
                          vx_dht_lookup_cb cb, void *arg)
{
    struct clookup *l = lookup_start(c, L_NODES, target);
    if (!l)
        return VX_ERR_LIMIT;
    l->cb = cb;
    l->arg = arg;
    lookup_step(c, l);
    return 0;
}

/* Store enc at the k closest nodes to key. */
static int store_at_closest(struct vx_dhtcore *c, const uint8_t *key, const uint8_t *enc,
                            size_t len, vx_dht_publish_cb cb, void *arg)
{
    struct clookup *l = lookup_start(c, L_STORE, key);
    struct storeop *op;
    if (!l)
        return VX_ERR_LIMIT;
    op = xmalloc(sizeof(*op));
    memset(op, 0, sizeof(*op));
    op->enc = xmalloc(len);
    memcpy(op->enc, enc, len);
    op->len = (uint16_t)len;
    op->cb = cb;
    op->arg = arg;
    op->next = c->ops_list;
    c->ops_list = op;
    l->op = op;
    lookup_step(c, l);
    return 0;
}

static struct pub *pub_find(struct vx_dhtcore *c, const uint8_t *key)
{
    for (size_t i = 0; i < c->n_pubs; i++)
        if (memcmp(c->pubs[i].key, key, VX_DHT_KEY_LEN) == 0)
            return &c->pubs[i];
    return NULL;
}

static int publish_now(struct vx_dhtcore *c, struct pub *p, vx_dht_publish_cb cb, void *arg)
{
    uint8_t enc[VX_RECORD_MAX];
    int n = vx_record_encode(&p->rec, enc, sizeof(enc));
    int rc;
    if (n < 0)
        return n;
    p->last_unix = c->now_unix;
    rc = value_put(c, &p->rec, enc, (size_t)n);
    if (rc < 0 && rc != VX_ERR_STALE)
        log_debug(LD_DHT, "own record not stored locally: %s", vx_strerror(rc));
    if (p->rec.type == VX_REC_NODE && memcmp(p->rec.u.node.node_id, c->id, VX_NODE_ID_LEN) == 0) {
        free(c->self_rec);
        c->self_rec = xmalloc((size_t)n);
        memcpy(c->self_rec, enc, (size_t)n);
        c->self_rec_len = (uint16_t)n;
    }
    return store_at_closest(c, p->key, enc, (size_t)n, cb, arg);
}

int vx_dhtcore_publish(struct vx_dhtcore *c, const struct vx_record *rec, vx_dht_publish_cb cb,
                       void *arg)
{
    uint8_t key[VX_DHT_KEY_LEN];
    struct pub *p;
    int rc = vx_record_verify(rec, c->now_unix);
    if (rc < 0)
        return rc;
    vx_record_key(rec, key);
    p = pub_find(c, key);
    if (p) {
        if (rec->seq < p->rec.seq)
            return VX_ERR_STALE;
    } else {
        if (c->n_pubs == c->cap_pubs) {
            c->cap_pubs = c->cap_pubs ? c->cap_pubs * 2 : 4;
            c->pubs = xreallocarray(c->pubs, c->cap_pubs, sizeof(*c->pubs));
        }
        p = &c->pubs[c->n_pubs++];
        memcpy(p->key, key, sizeof(key));
    }
    p->rec = *rec;
    return publish_now(c, p, cb, arg);
}

int vx_dhtcore_unpublish(struct vx_dhtcore *c, const uint8_t key[VX_DHT_KEY_LEN])
{
    struct pub *p = pub_find(c, key);
    struct value *v;
    if (!p)
        return VX_ERR_NOTFOUND;
    *p = c->pubs[--c->n_pubs];
    v = value_find(c, key);
    if (v)
        value_del(c, v);
    return 0;
}

/* ---- bootstrap -------------------------------------------------------- */

int vx_dhtcore_bootstrap(struct vx_dhtcore *c, const struct vx_dhtaddr *addrs, size_t n)
{
    if (n == 0)
        return VX_ERR_INVAL;
    c->self_lookup_done = 0;
    c->self_backoff_ms = 0;
    for (size_t i = 0; i < n; i++)
        send_ping(c, &addrs[i], NULL, P_PING_BOOT);
    return 0;
}

void vx_dhtcore_add_contact(struct vx_dhtcore *c, const uint8_t id[VX_NODE_ID_LEN],
                            const struct vx_dhtaddr *addr)
{
    if (memcmp(id, c->id, VX_NODE_ID_LEN) == 0 || vx_rt_get(c->rt, id))
        return;
    send_ping(c, addr, id, P_PING_BOOT);
}

static void self_lookup(struct vx_dhtcore *c)
{
    struct clookup *l;
    if (c->self_lookup_done)
        return;
    l = lookup_start(c, L_REFRESH, c->id);
    if (!l)
        return;
    c->self_lookup_done = 1;
    c->self_backoff_ms = c->self_backoff_ms ? c->self_backoff_ms * 2 : 1000;
    if (c->self_backoff_ms > 120000)
        c->self_backoff_ms = 120000;
    c->self_again_ms = c->now_ms + c->self_backoff_ms;
    lookup_step(c, l);
}

/* ---- incoming queries ------------------------------------------------- */

static int admit_store(struct vx_dhtcore *c, const struct vx_dhtaddr *from,
                       const struct vx_dhtmsg *m)
{
    struct vx_record rec;
    int rc;
    if (!token_valid(c, from, m->token)) {
        c->st.stores_bad_token++;
        return VX_ERR_DENIED;
    }
    if (!rate_ok(c, from)) {
        c->st.stores_rate_limited++;
        return VX_ERR_LIMIT;
    }
    if ((rc = vx_record_parse(&rec, m->rec, m->rec_len, c->now_unix)) < 0)
        return rc;
    return value_put(c, &rec, m->rec, m->rec_len);
}

static void handle_query(struct vx_dhtcore *c, const struct vx_dhtaddr *from,
                         const struct vx_dhtmsg *m)
{
    const struct value *v;
    struct vx_dhtmsg r;
    int rc;

    memset(&r, 0, sizeof(r));
    memcpy(r.txid, m->txid, VX_DHT_TXID_LEN);
    switch (m->type) {
    case VX_DHT_PING: {
        const struct vx_rt_contact *k = vx_rt_get(c->rt, m->sender);
        if (!k || !k->confirmed)
            learn_node_record(c, m);
        r.type = VX_DHT_PONG;
        r.rec = c->self_rec;
        r.rec_len = c->self_rec_len;
        break;
    }
    case VX_DHT_FIND_VALUE:
        v = value_find(c, m->target);
        if (v && v->rec.expires > c->now_unix) {
            r.type = VX_DHT_VALUE;
            r.rec = v->enc;
            r.rec_len = v->len;
            make_token(c->secret, from, r.token);
            break;
        }
        __attribute__((fallthrough)); /* no value: answer with nodes */
    case VX_DHT_FIND_NODE:
        r.type = VX_DHT_NODES;
        make_token(c->secret, from, r.token);
        r.n_contacts =
                (uint8_t)vx_rt_closest(c->rt, m->target, r.contacts, c->conf.k, 1, m->sender);
        break;
    case VX_DHT_STORE:
        rc = admit_store(c, from, m);
        if (rc < 0) {
            c->st.stores_rejected++;
            log_debug(LD_DHT, "STORE refused: %s", vx_strerror(rc));
        } else {
            c->st.stores_accepted++;
        }
        r.type = VX_DHT_STORED;
        r.status = (uint8_t)(rc < 0 ? -rc : 0);
        break;
    default:
        return;
    }
    reply(c, from, &r);
    note_contact(c, m->sender, from, 0, 0);
}

/* ---- incoming responses ----------------------------------------------- */

static int expected_response(int req, int resp)
{
    switch (req) {
    case VX_DHT_PING:
        return resp == VX_DHT_PONG;
    case VX_DHT_FIND_NODE:
        return resp == VX_DHT_NODES;
    case VX_DHT_FIND_VALUE:
        return resp == VX_DHT_NODES || resp == VX_DHT_VALUE;
    case VX_DHT_STORE:
        return resp == VX_DHT_STORED;
    default:
        return 0;
    }
}

static void pending_del(struct vx_dhtcore *c, size_t i)
{
    free(c->pend[i].msg);
    c->pend[i] = c->pend[--c->n_pend];
}

static void lookup_reply(struct vx_dhtcore *c, struct clookup *l, int slot,
                         const struct vx_dhtmsg *m)
{
    struct vx_lookup_cand *x = &l->lk.cand[slot];
    unsigned hops = x->hops;

    if (m->type == VX_DHT_VALUE) {
        struct vx_record rec;
        uint8_t key[VX_DHT_KEY_LEN];
        int rc = vx_record_parse(&rec, m->rec, m->rec_len, c->now_unix);
        if (rc == 0) {
            vx_record_key(&rec, key);
            if (memcmp(key, l->lk.target, VX_DHT_KEY_LEN) != 0)
                rc = VX_ERR_INVAL;
            else if (!want_ok(l, &rec))
                rc = VX_ERR_KEYCHANGED;
        }
        vx_lookup_replied(&l->lk, slot, m->token);
        if (rc == 0) {
            l->rec = rec;
            l->hops = hops;
            if (c->ops.record_seen)
                c->ops.record_seen(c->ctx, &rec);
            lookup_finish(c, l, 0);
            return;
        }
        vx_log_rl(&rl_bad, LD_DHT, VX_LOG_INFO, "a DHT node returned an unusable record: %s",
                  vx_strerror(rc));
    } else {
        vx_lookup_replied(&l->lk, slot, m->token);
        for (unsigned i = 0; i < m->n_contacts; i++)
            vx_lookup_add(&l->lk, &m->contacts[i], hops + 1);
    }
    lookup_step(c, l);
}

static void storeop_result(struct vx_dhtcore *c, struct storeop *op, int ok)
{
    if (!op)
        return;
    if (ok)
        op->stored++;
    if (op->outstanding)
        op->outstanding--;
    if (op->started && op->outstanding == 0) {
        op->done = 1;
        c->need_reap = 1;
    }
}

static void handle_response(struct vx_dhtcore *c, const struct vx_dhtaddr *from,
                            const struct vx_dhtmsg *m)
{
    size_t i;
    struct pending p;
    uint32_t rtt;

    for (i = 0; i < c->n_pend; i++)
        if (memcmp(c->pend[i].txid, m->txid, VX_DHT_TXID_LEN) == 0)
            break;
    if (i == c->n_pend) {
        log_debug(LD_DHT, "unsolicited %s", vx_dhtmsg_type_name(m->type));
        return;
    }
    p = c->pend[i];
    /* Only the node we asked, at the address we asked, may answer. */
    if (!vx_dhtaddr_equal(&p.to, from) ||
        (p.id_known && memcmp(p.id, m->sender, VX_NODE_ID_LEN) != 0) ||
        !expected_response(p.type, m->type)) {
        log_debug(LD_DHT, "mismatched %s ignored", vx_dhtmsg_type_name(m->type));
        return;
    }
    free(p.msg);
    c->pend[i] = c->pend[--c->n_pend];
    rtt = p.tries == 1 ? (uint32_t)(c->now_ms - p.sent_ms) : 0;
    if (rtt == 0 && p.tries == 1)
        rtt = 1;

    note_contact(c, m->sender, from, 1, rtt);
    if (c->ops.peer_result)
        c->ops.peer_result(c->ctx, m->sender, 1, rtt);
    if (m->type == VX_DHT_PONG)
        learn_node_record(c, m);

    switch (p.purpose) {
    case P_PING_BOOT:
        self_lookup(c);
        break;
    case P_LOOKUP:
        if (p.lk)
            lookup_reply(c, p.lk, p.slot, m);
        break;
    case P_STORE:
        if (m->status)
            log_debug(LD_DHT, "STORE refused by a node: %s", vx_strerror(-(int)m->status));
        storeop_result(c, p.op, m->status == 0);
        break;
    default:
        break;
    }
}

/* Deliver finished lookups and publications. */
static void reap(struct vx_dhtcore *c)
{
    while (c->need_reap) {
        struct clookup *done = NULL, **pl = &c->lookups;
        struct storeop *odone = NULL, **po = &c->ops_list;
        c->need_reap = 0;
        while (*pl) {
            struct clookup *l = *pl;
            if (l->finished && (!l->op)) {
                *pl = l->next;
                l->next = done;
                done = l;
                c->n_lookups--;
            } else {
                pl = &l->next;
            }
        }
        while (*po) {
            struct storeop *op = *po;
            if (op->done) {
                *po = op->next;
                op->next = odone;
                odone = op;
            } else {
                po = &op->next;
            }
        }
        while (done) {
            struct clookup *l = done;
            done = l->next;
            if (l->cb) {
                struct vx_dht_contact nodes[VX_DHT_MAX_CONTACTS];
                int idx[VX_DHT_MAX_CONTACTS];
                struct vx_dht_result res;
                memset(&res, 0, sizeof(res));
                res.err = l->err;
                res.rec = l->err == 0 && l->kind == L_VALUE ? &l->rec : NULL;
                if (l->kind == L_NODES) {
                    res.n_nodes = vx_lookup_results(&l->lk, idx, c->conf.k);
                    for (size_t j = 0; j < res.n_nodes; j++)
                        nodes[j] = l->lk.cand[idx[j]].c;
                    res.nodes = nodes;
                }
                res.hops = l->hops;
                res.queried = l->lk.queried;
                res.messages = l->messages;
                res.from_cache = l->from_cache;
                res.elapsed_ms = c->now_ms - l->started_ms;
                l->cb(&res, l->arg);
            }
            free(l);
        }
        while (odone) {
            struct storeop *op = odone;
            odone = op->next;
            if (op->cb)
                op->cb(op->stored, op->arg);
            storeop_free(op);
        }
    }
}

void vx_dhtcore_input(struct vx_dhtcore *c, const struct vx_dhtaddr *from, const uint8_t *data,
                      size_t len)
{
    struct vx_dhtmsg m;
    int rc;

    c->st.msgs_in++;
    rc = vx_dhtmsg_decode(&m, data, len);
    if (rc < 0) {
        c->st.bad_msgs++;
        log_debug(LD_DHT, "malformed DHT datagram (%zu bytes): %s", len, vx_strerror(rc));
        return;
    }
    if (memcmp(m.sender, c->id, VX_NODE_ID_LEN) == 0 || from->port == 0)
        return;
    if (vx_dhtmsg_is_response(m.type)) {
        handle_response(c, from, &m);
    } else if (!query_rate_ok(c, from)) {
        /* Over the per-source request rate: no answer at all, so a flood
         * costs us no outgoing traffic. */
        c->st.queries_rate_limited++;
        vx_log_rl(&rl_flood, LD_DHT, VX_LOG_NOTICE,
                  "DHT requests from one source over the rate limit (limits.dht_rate); "
                  "dropping them");
    } else {
        handle_query(c, from, &m);
    }
    reap(c);
}

/* ---- time ------------------------------------------------------------- */

static void timeouts(struct vx_dhtcore *c)
{
    size_t i = 0;
    while (i < c->n_pend) {
        struct pending *p = &c->pend[i];
        if (p->deadline_ms > c->now_ms) {
            i++;
            continue;
        }
        if (p->tries <= c->conf.retries) {
            p->tries++;
            p->deadline_ms = c->now_ms + c->conf.request_timeout_ms;
            emit(c, &p->to, p->msg, p->len);
            if (p->purpose == P_LOOKUP && p->lk) {
                struct clookup *l = p->lk;
                l->messages++;
                vx_lookup_stalled(&l->lk, p->slot);
                lookup_step(c, l); /* may append to c->pend */
            }
            i++;
            continue;
        }
        struct pending q = *p;
        pending_del(c, i);
        if (q.id_known) {
            vx_rt_failed(c->rt, q.id, q.purpose == P_PING_BUCKET || q.purpose == P_PING_CONFIRM);
            if (c->ops.peer_result)
                c->ops.peer_result(c->ctx, q.id, 0, 0);
        }
        if (q.purpose == P_LOOKUP && q.lk) {
            vx_lookup_failed(&q.lk->lk, q.slot);
            lookup_step(c, q.lk);
        } else if (q.purpose == P_STORE) {
            storeop_result(c, q.op, 0);
        } else if (q.purpose == P_PING_BOOT) {
            char a[64];
            vx_dhtaddr_format(&q.to, a, sizeof(a));
            log_info(LD_DHT, "bootstrap peer %s did not answer", a);
        }
    }
    for (struct clookup *l = c->lookups; l; l = l->next)
        if (!l->finished && l->deadline_ms <= c->now_ms)
            lookup_finish(c, l, l->kind == L_VALUE ? VX_ERR_TIMEOUT : 0);
}

static void republish(struct vx_dhtcore *c)
{
    for (size_t i = 0; i < c->n_pubs; i++) {
        struct pub *p = &c->pubs[i];
        uint64_t life = p->rec.expires - p->rec.issued;
        int resign = c->ident && memcmp(p->rec.signer, c->ident->pk, VX_PK_LEN) == 0 &&
                     p->rec.expires <= c->now_unix + life / 2;
        int due = p->last_unix + c->conf.republish_s <= c->now_unix ||
                  p->rec.expires <= c->now_unix + life / 4;
        if (!due && !resign)
            continue;
        if (resign) {
            struct vx_record r = p->rec;
            r.seq++;
            r.issued = c->now_unix;
            r.expires = c->now_unix + life;
            if (vx_record_sign(&r, c->ident) == 0)
                p->rec = r;
        } else if (p->rec.expires <= c->now_unix) {
            continue; /* not ours to renew: let it lapse */
        }
        publish_now(c, p, NULL, NULL);
    }
}

static void maintenance(struct vx_dhtcore *c)
{
    size_t i;
    unsigned started = 0;

    if (c->secret_at_ms + (uint64_t)c->conf.token_rotate_s * 1000 <= c->now_ms) {
        memcpy(c->prev_secret, c->secret, sizeof(c->secret));
        randombytes_buf(c->secret, sizeof(c->secret));
        c->secret_at_ms = c->now_ms;
    }
    for (i = 0; i < c->n_vals;) {
        if (c->vals[i].rec.expires <= c->now_unix)
            value_del(c, &c->vals[i]);
        else
            i++;
    }
    /* A young node: look ourselves up again (1 s, 2 s, 4 s, ... 2 min apart)
     * until the table holds k contacts. */
    if (c->self_lookup_done && c->self_again_ms <= c->now_ms && vx_rt_size(c->rt) < c->conf.k &&
        vx_rt_size(c->rt) > 0) {
        log_debug(LD_DHT, "only %zu contacts: looking ourselves up again", vx_rt_size(c->rt));
        c->self_lookup_done = 0;
        self_lookup(c);
    }
    republish(c);
    if (c->conf.replicate_s) {
        for (i = 0; i < c->n_vals && started < REPLICATE_MAX; i++) {
            struct value *v = &c->vals[i];
            if (v->replicate_at > c->now_unix || pub_find(c, v->key))
                continue;
            v->replicate_at = c->now_unix + c->conf.replicate_s;
            if (store_at_closest(c, v->key, v->enc, v->len, NULL, NULL) == 0)
                started++;
        }
    }
    if (c->conf.refresh_s) {
        int b = vx_rt_stale_bucket(c->rt, c->now_ms, (uint64_t)c->conf.refresh_s * 1000);
        if (b >= 0) {
            uint8_t target[VX_NODE_ID_LEN];
            struct clookup *l;
            vx_rt_random_id(c->rt, b, target);
            l = lookup_start(c, L_REFRESH, target);
            if (l)
                lookup_step(c, l);
            else
                vx_rt_touch(c->rt, target, c->now_ms);
        }
    }
}

void vx_dhtcore_tick(struct vx_dhtcore *c)
{
    timeouts(c);
    if (c->next_maint_ms <= c->now_ms) {
        c->next_maint_ms = c->now_ms + MAINT_MS;
        maintenance(c);
    }
    reap(c);
}

uint64_t vx_dhtcore_next_deadline(const struct vx_dhtcore *c)
{
    uint64_t d = c->next_maint_ms ? c->next_maint_ms : UINT64_MAX;
    if (c->need_reap)
        return c->now_ms;
    for (size_t i = 0; i < c->n_pend; i++)
        if (c->pend[i].deadline_ms < d)
            d = c->pend[i].deadline_ms;
    for (const struct clookup *l = c->lookups; l; l = l->next)
        if (!l->finished && l->deadline_ms < d)
            d = l->deadline_ms;
    return d;
}

void vx_dhtcore_set_lookup_observer(struct vx_dhtcore *c, vx_dht_lookup_observer_fn fn, void *arg)
{
    c->observer = fn;
    c->observer_arg = fn ? arg : NULL;
}

void vx_dhtcore_stats(const struct vx_dhtcore *c, struct vx_dhtcore_stats *st)
{
    *st = c->st;
    st->contacts = vx_rt_size(c->rt);
    st->buckets = vx_rt_nonempty_buckets(c->rt);
    st->values = c->n_vals;
    st->published = c->n_pubs;
    st->lookups_active = c->n_lookups;
    st->pending = c->n_pend;
}
