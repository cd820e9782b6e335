/* limits.c — connection counting and token buckets keyed by address prefix. */
#include "lib/limits.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#define NIL UINT32_MAX

int vx_prefix_from_sockaddr(const struct sockaddr *sa, unsigned v4_bits, unsigned v6_bits,
                            struct vx_prefix *out)
{
    unsigned bits, nbytes;
    uint16_t port;
    int v;

    memset(out, 0, sizeof(*out));
    /* No length comes with sa: it is a whole address of its family, and
     * vx_addr_to_ip reads no further than that. */
    if ((v = vx_addr_to_ip(sa, sizeof(struct sockaddr_storage), out->addr, &port)) < 0)
        return v;
    out->family = v == 4 ? AF_INET : AF_INET6;
    if (out->family == AF_INET)
        bits = v4_bits > 32 ? 32 : v4_bits;
    else
        bits = v6_bits > 128 ? 128 : v6_bits;
    out->bits = (uint8_t)bits;
    nbytes = bits / 8;
    if (bits % 8) {
        out->addr[nbytes] &= (uint8_t)(0xff00u >> (bits % 8));
        nbytes++;
    }
    memset(out->addr + nbytes, 0, sizeof(out->addr) - nbytes);
    return 0;
}

static int prefix_eq(const struct vx_prefix *a, const struct vx_prefix *b)
{
    return a->family == b->family && a->bits == b->bits &&
           memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Bucket array sized to a power of two >= n, and its SipHash key. */
struct htab {
    uint32_t *heads;
    uint32_t mask;
    unsigned char key[crypto_shorthash_KEYBYTES];
};

static void htab_init(struct htab *h, unsigned n)
{
    uint32_t size = 16;
    while (size < n && size < (1u << 30))
        size <<= 1;
    h->heads = xcalloc(size, sizeof(uint32_t));
    for (uint32_t i = 0; i < size; i++)
        h->heads[i] = NIL;
    h->mask = size - 1;
    if (sodium_init() < 0)
        abort();
    randombytes_buf(h->key, sizeof(h->key));
}

static uint32_t htab_slot(const struct htab *h, const struct vx_prefix *p)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint32_t v;
    crypto_shorthash(out, (const unsigned char *)p, sizeof(*p), h->key);
    memcpy(&v, out, sizeof(v));
    return v & h->mask;
}

/* ---- connection limits ---- */

struct cl_ent {
    struct vx_prefix key;
    uint32_t next; /* hash chain, or free list */
    unsigned count;
};

struct vx_connlimit {
    struct htab h;
    struct cl_ent *ents; /* max_total: each client holds at least one */
    uint32_t free_head;
    unsigned max_total, max_per_client, total, clients;
};

struct vx_connlimit *vx_connlimit_new(unsigned max_total, unsigned max_per_client)
{
    struct vx_connlimit *cl = xcalloc(1, sizeof(*cl));
    cl->max_total = max_total ? max_total : 1;
    cl->max_per_client = max_per_client ? max_per_client : 1;
    htab_init(&cl->h, cl->max_total);
    cl->ents = xcalloc(cl->max_total, sizeof(*cl->ents));
    for (uint32_t i = 0; i < cl->max_total; i++)
        cl->ents[i].next = i + 1 < cl->max_total ? i + 1 : NIL;
    cl->free_head = 0;
    return cl;
}

void vx_connlimit_free(struct vx_connlimit *cl)
{
    if (!cl)
        return;
    free(cl->h.heads);
    free(cl->ents);
    free(cl);
}

/* Finds the entry for p; *pp is the link pointing at it (or the chain end). */
static uint32_t cl_find(const struct vx_connlimit *cl, const struct vx_prefix *p, uint32_t **pp)
{
    uint32_t *link = &cl->h.heads[htab_slot(&cl->h, p)];
    while (*link != NIL && !prefix_eq(&cl->ents[*link].key, p))
        link = &cl->ents[*link].next;
    if (pp)
        *pp = link;
    return *link;
}

int vx_connlimit_acquire(struct vx_connlimit *cl, const struct sockaddr *sa)
{
    struct vx_prefix p;
    uint32_t *link, i;

    if (vx_prefix_from_sockaddr(sa, 32, 64, &p) < 0)
        return VX_ERR_BADADDR;
    if (cl->total >= cl->max_total)
        return VX_ERR_LIMIT;
    i = cl_find(cl, &p, &link);
    if (i != NIL) {
        if (cl->ents[i].count >= cl->max_per_client)
            return VX_ERR_LIMIT;
        cl->ents[i].count++;
    } else {
        /* total < max_total, so a free entry exists */
        i = cl->free_head;
        cl->free_head = cl->ents[i].next;
        cl->ents[i].key = p;
        cl->ents[i].count = 1;
        cl->ents[i].next = NIL;
        *link = i;
        cl->clients++;
    }
    cl->total++;
    return 0;
}

int vx_connlimit_release(struct vx_connlimit *cl, const struct sockaddr *sa)
{
    struct vx_prefix p;
    uint32_t *link, i;

    if (vx_prefix_from_sockaddr(sa, 32, 64, &p) < 0)
        return VX_ERR_BADADDR;
    i = cl_find(cl, &p, &link);
    if (i == NIL)
        return VX_ERR_NOTFOUND;
    cl->total--;
    if (--cl->ents[i].count == 0) {
        *link = cl->ents[i].next;
        cl->ents[i].next = cl->free_head;
        cl->free_head = i;
        cl->clients--;
    }
    return 0;
}

unsigned vx_connlimit_total(const struct vx_connlimit *cl)
{
    return cl->total;
}

unsigned vx_connlimit_clients(const struct vx_connlimit *cl)
{
    return cl->clients;
}

unsigned vx_connlimit_count(const struct vx_connlimit *cl, const struct sockaddr *sa)
{
    struct vx_prefix p;
    uint32_t i;
    if (vx_prefix_from_sockaddr(sa, 32, 64, &p) < 0)
        return 0;
    i = cl_find(cl, &p, NULL);
    return i == NIL ? 0 : cl->ents[i].count;
}

/* ---- token buckets ---- */

/* Tokens are counted in millionths so fractional rates stay exact enough. */
#define UTOK 1000000ull

struct rl_ent {
    struct vx_prefix key;
    uint32_t next; /* hash chain */
    uint32_t lru_prev, lru_next;
    uint64_t tokens; /* in UTOK */
    uint64_t last_ms;
};

struct vx_ratelimit {
    struct htab h;
    struct rl_ent *ents;
    unsigned max_keys, used;
    uint32_t lru_head, lru_tail; /* most / least recently used */
    uint64_t refill_per_ms;      /* UTOK per millisecond */
    uint64_t cap;                /* UTOK */
    unsigned v4_bits, v6_bits;
    struct vx_ratelimit_stats st;
};

struct vx_ratelimit *vx_ratelimit_new(const struct vx_ratelimit_cfg *cfg)
{
    struct vx_ratelimit *rl = xcalloc(1, sizeof(*rl));
    double rate = cfg->rate, burst = cfg->burst;

    if (!(rate >= 0.001))
        rate = 0.001;
    if (rate > 1e6)
        rate = 1e6;
    if (!(burst >= 1))
        burst = 1;
    if (burst > 1e6)
        burst = 1e6;
    rl->refill_per_ms = (uint64_t)(rate * (double)UTOK / 1000.0);
    if (rl->refill_per_ms == 0)
        rl->refill_per_ms = 1;
    rl->cap = (uint64_t)(burst * (double)UTOK);
    rl->max_keys = cfg->max_keys ? cfg->max_keys : 1;
    rl->v4_bits = cfg->v4_bits;
    rl->v6_bits = cfg->v6_bits;
    htab_init(&rl->h, rl->max_keys);
    rl->ents = xcalloc(rl->max_keys, sizeof(*rl->ents));
    rl->lru_head = rl->lru_tail = NIL;
    return rl;
}

void vx_ratelimit_free(struct vx_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->h.heads);
    free(rl->ents);
    free(rl);
}

static void lru_unlink(struct vx_ratelimit *rl, uint32_t i)
{
    struct rl_ent *e = &rl->ents[i];
    if (e->lru_prev != NIL)
        rl->ents[e->lru_prev].lru_next = e->lru_next;
    else
        rl->lru_head = e->lru_next;
    if (e->lru_next != NIL)
        rl->ents[e->lru_next].lru_prev = e->lru_prev;
    else
        rl->lru_tail = e->lru_prev;
}

static void lru_push_front(struct vx_ratelimit *rl, uint32_t i)
{
    struct rl_ent *e = &rl->ents[i];
    e->lru_prev = NIL;
    e->lru_next = rl->lru_head;
    if (rl->lru_head != NIL)
        rl->ents[rl->lru_head].lru_prev = i;
    rl->lru_head = i;
    if (rl->lru_tail == NIL)
        rl->lru_tail = i;
}

static uint32_t *rl_link(struct vx_ratelimit *rl, const struct vx_prefix *p)
{
    uint32_t *link = &rl->h.heads[htab_slot(&rl->h, p)];
    while (*link != NIL && !prefix_eq(&rl->ents[*link].key, p))
        link = &rl->ents[*link].next;
    return link;
}

/* A slot for a new key: an unused one, else the least recently used. */
static uint32_t rl_take_slot(struct vx_ratelimit *rl)
{
    uint32_t i;
    if (rl->used < rl->max_keys)
        return rl->used++;
    i = rl->lru_tail;
    lru_unlink(rl, i);
    uint32_t *link = rl_link(rl, &rl->ents[i].key);
    *link = rl->ents[i].next;
    rl->st.evicted++;
    return i;
}

int vx_ratelimit_allow(struct vx_ratelimit *rl, const struct sockaddr *sa, uint64_t now_ms)
{
    struct vx_prefix p;
    uint32_t *link, i;
    struct rl_ent *e;

    if (vx_prefix_from_sockaddr(sa, rl->v4_bits, rl->v6_bits, &p) < 0)
        return VX_ERR_BADADDR;
    link = rl_link(rl, &p);
    if (*link != NIL) {
        i = *link;
        e = &rl->ents[i];
        if (now_ms > e->last_ms) {
            uint64_t dt = now_ms - e->last_ms;
            /* no overflow: a full refill is all that can matter */
            if (dt >= rl->cap / rl->refill_per_ms + 1)
                e->tokens = rl->cap;
            else
                e->tokens += dt * rl->refill_per_ms;
            if (e->tokens > rl->cap)
                e->tokens = rl->cap;
            e->last_ms = now_ms;
        }
        lru_unlink(rl, i);
    } else {
        i = rl_take_slot(rl);
        link = rl_link(rl, &p); /* eviction may have changed the chain */
        e = &rl->ents[i];
        e->key = p;
        e->tokens = rl->cap;
        e->last_ms = now_ms;
        e->next = NIL;
        *link = i;
    }
    lru_push_front(rl, i);
    if (e->tokens < UTOK) {
        rl->st.limited++;
        return VX_ERR_LIMIT;
    }
    e->tokens -= UTOK;
    rl->st.allowed++;
    return 0;
}

void vx_ratelimit_get_stats(const struct vx_ratelimit *rl, struct vx_ratelimit_stats *st)
{
    *st = rl->st;
    st->keys = rl->used;
}
