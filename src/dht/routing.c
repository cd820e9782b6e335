/* routing.c — Kademlia k-buckets with prefix diversity. */
#include "dht/routing.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

struct bucket {
    struct vx_rt_contact *c; /* k + 1 slots, allocated on first use; */
    uint8_t n;               /* slot k holds the replacement candidate */
    uint8_t has_repl;
    uint64_t touched_ms; /* last lookup into this bucket's range */
};

#define REPL(rt, b) ((b)->c[(rt)->k])

struct vx_rt {
    uint8_t self[VX_NODE_ID_LEN];
    unsigned k;
    unsigned prefix_limit;
    size_t size;
    struct bucket b[VX_RT_BUCKETS];
};

struct vx_rt *vx_rt_new(const uint8_t self[VX_NODE_ID_LEN], unsigned k, unsigned prefix_limit)
{
    struct vx_rt *rt = calloc(1, sizeof(*rt));
    if (!rt)
        abort();
    memcpy(rt->self, self, VX_NODE_ID_LEN);
    rt->k = k ? (k > 255 ? 255 : k) : 20;
    rt->prefix_limit = prefix_limit;
    return rt;
}

void vx_rt_free(struct vx_rt *rt)
{
    if (!rt)
        return;
    for (int i = 0; i < VX_RT_BUCKETS; i++)
        free(rt->b[i].c);
    free(rt);
}

static int common_prefix(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < VX_NODE_ID_LEN; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x)
            return i * 8 + __builtin_clz((unsigned)x) - 24;
    }
    return 256;
}

int vx_rt_bucket_of(const struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN])
{
    int p = common_prefix(rt->self, id);
    return p == 256 ? -1 : p;
}

int vx_id_cmp_dist(const uint8_t *target, const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < VX_NODE_ID_LEN; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

static int find_in(const struct bucket *b, const uint8_t *id)
{
    for (int i = 0; i < b->n; i++)
        if (memcmp(b->c[i].id, id, VX_NODE_ID_LEN) == 0)
            return i;
    return -1;
}

static int prefix_counted(const struct vx_rt *rt, const struct vx_dhtaddr *a)
{
    return rt->prefix_limit && !vx_dhtaddr_is_loopback(a);
}

static unsigned same_prefix_count(const struct bucket *b, const struct vx_dhtaddr *a)
{
    unsigned n = 0;
    for (int i = 0; i < b->n; i++)
        if (vx_dhtaddr_same_prefix(&b->c[i].addr, a))
            n++;
    return n;
}

/* Move entry i to the tail (most recently seen). */
static void to_tail(struct bucket *b, int i)
{
    struct vx_rt_contact c = b->c[i];
    memmove(&b->c[i], &b->c[i + 1], (size_t)(b->n - i - 1) * sizeof(c));
    b->c[b->n - 1] = c;
}

int vx_rt_update(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN], const struct vx_dhtaddr *addr,
                 int confirmed, uint32_t rtt_ms, uint64_t now_ms, uint64_t ping_interval_ms,
                 struct vx_rt_contact *lrs)
{
    int bi = vx_rt_bucket_of(rt, id), i;
    struct bucket *b;
    struct vx_rt_contact nc;

    if (bi < 0)
        return VX_RT_REJECTED;
    b = &rt->b[bi];
    if (b->n && (i = find_in(b, id)) >= 0) {
        struct vx_rt_contact *c = &b->c[i];
        if (!vx_dhtaddr_equal(&c->addr, addr)) {
            if (!confirmed)
                return VX_RT_UPDATED; /* an unproven claim: keep what we have */
            c->addr = *addr;
        }
        c->last_seen_ms = now_ms;
        c->fails = 0;
        if (confirmed)
            c->confirmed = 1;
        if (rtt_ms)
            c->rtt_ms = c->rtt_ms ? (c->rtt_ms * 7 + rtt_ms) / 8 : rtt_ms;
        to_tail(b, i);
        return VX_RT_UPDATED;
    }
    if (b->has_repl && memcmp(REPL(rt, b).id, id, VX_NODE_ID_LEN) == 0) {
        /* Our replacement again: handled as a newcomer below. */
        if (!confirmed && !vx_dhtaddr_equal(&REPL(rt, b).addr, addr))
            return VX_RT_FULL;
        confirmed |= REPL(rt, b).confirmed;
        b->has_repl = 0;
    }
    if (prefix_counted(rt, addr) && same_prefix_count(b, addr) >= rt->prefix_limit)
        return VX_RT_REJECTED;

    memset(&nc, 0, sizeof(nc));
    memcpy(nc.id, id, VX_NODE_ID_LEN);
    nc.addr = *addr;
    nc.last_seen_ms = now_ms;
    nc.confirmed = confirmed ? 1 : 0;
    nc.rtt_ms = rtt_ms;

    if (!b->c) {
        b->c = calloc(rt->k + 1, sizeof(*b->c));
        if (!b->c)
            abort();
        if (!b->touched_ms)
            b->touched_ms = now_ms;
    }
    if (b->n < rt->k) {
        b->c[b->n++] = nc;
        rt->size++;
        return VX_RT_ADDED;
    }
    /* Full.  A contact that already failed, or an unconfirmed one when the
     * newcomer is confirmed, gives way at once. */
    for (i = 0; i < b->n; i++) {
        if (b->c[i].fails > 0 || (confirmed && !b->c[i].confirmed)) {
            memmove(&b->c[i], &b->c[i + 1], (size_t)(b->n - i - 1) * sizeof(nc));
            b->c[b->n - 1] = nc;
            return VX_RT_ADDED;
        }
    }
    if (!b->has_repl || confirmed || !REPL(rt, b).confirmed) {
        REPL(rt, b) = nc;
        b->has_repl = 1;
    }
    if (b->c[0].last_ping_ms + ping_interval_ms <= now_ms || b->c[0].last_ping_ms == 0) {
        b->c[0].last_ping_ms = now_ms;
        if (lrs)
            *lrs = b->c[0];
        return VX_RT_PING;
    }
    return VX_RT_FULL;
}

static void evict(struct vx_rt *rt, struct bucket *b, int i)
{
    memmove(&b->c[i], &b->c[i + 1], (size_t)(b->n - i - 1) * sizeof(b->c[0]));
    b->n--;
    rt->size--;
    if (b->has_repl) {
        unsigned same =
                prefix_counted(rt, &REPL(rt, b).addr) ? same_prefix_count(b, &REPL(rt, b).addr) : 0;
        if (!rt->prefix_limit || same < rt->prefix_limit) {
            /* The replacement is the most recently seen: goes to the tail. */
            b->c[b->n++] = REPL(rt, b);
            rt->size++;
        }
        b->has_repl = 0;
    }
}

int vx_rt_failed(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN], int hard)
{
    int bi = vx_rt_bucket_of(rt, id), i;
    struct bucket *b;
    if (bi < 0)
        return 0;
    b = &rt->b[bi];
    if (b->has_repl && memcmp(REPL(rt, b).id, id, VX_NODE_ID_LEN) == 0) {
        b->has_repl = 0;
        return 1;
    }
    if (!b->n || (i = find_in(b, id)) < 0)
        return 0;
    if (b->c[i].fails < 255)
        b->c[i].fails++;
    if (hard || b->c[i].fails >= 2 || !b->c[i].confirmed) {
        evict(rt, b, i);
        return 1;
    }
    return 0;
}

int vx_rt_remove(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN])
{
    int bi = vx_rt_bucket_of(rt, id), i;
    struct bucket *b;
    if (bi < 0)
        return VX_ERR_NOTFOUND;
    b = &rt->b[bi];
    if (!b->n || (i = find_in(b, id)) < 0)
        return VX_ERR_NOTFOUND;
    evict(rt, b, i);
    return 0;
}

const struct vx_rt_contact *vx_rt_get(const struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN])
{
    int bi = vx_rt_bucket_of(rt, id), i;
    if (bi < 0 || !rt->b[bi].n || (i = find_in(&rt->b[bi], id)) < 0)
        return NULL;
    return &rt->b[bi].c[i];
}

/* Insert contacts of bucket bi into the sorted candidate list (bounded). */
struct closest_acc {
    const uint8_t *target;
    struct vx_dht_contact *out;
    size_t n, max;
    unsigned prefix_limit;
};

static void acc_add(struct closest_acc *a, const struct vx_rt_contact *c)
{
    size_t j;
    if (a->n == a->max && vx_id_cmp_dist(a->target, c->id, a->out[a->n - 1].id) >= 0)
        return;
    j = a->n < a->max ? a->n++ : a->n - 1;
    while (j > 0 && vx_id_cmp_dist(a->target, c->id, a->out[j - 1].id) < 0) {
        a->out[j] = a->out[j - 1];
        j--;
    }
    memcpy(a->out[j].id, c->id, VX_NODE_ID_LEN);
    a->out[j].addr = c->addr;
}

size_t vx_rt_closest(const struct vx_rt *rt, const uint8_t target[VX_NODE_ID_LEN],
                     struct vx_dht_contact *out, size_t max, int only_confirmed,
                     const uint8_t *exclude)
{
    /* Buckets in order of distance to target: bucket b = cpl(self, target)
     * first, then every deeper bucket (their distance has top bit b), then
     * b-1, b-2, ... 0.  Collect generously, then apply the prefix limit. */
    struct vx_dht_contact tmp[3 * VX_DHT_MAX_CONTACTS + 8];
    size_t want = max * 3 < sizeof(tmp) / sizeof(tmp[0]) ? max * 3 : sizeof(tmp) / sizeof(tmp[0]);
    struct closest_acc a = {target, tmp, 0, want, rt->prefix_limit};
    int b0 = vx_rt_bucket_of(rt, target), n_out = 0;
    if (b0 < 0)
        b0 = VX_RT_BUCKETS - 1;

    for (int pass = 0; pass < 3; pass++) {
        int from, to;
        if (pass == 0) {
            from = b0;
            to = b0;
        } else if (pass == 1) {
            from = b0 + 1;
            to = VX_RT_BUCKETS - 1;
        } else {
            from = 0;
            to = b0 - 1;
        }
        for (int bi = (pass == 2 ? to : from); pass == 2 ? bi >= from : bi <= to;
             bi += (pass == 2 ? -1 : 1)) {
            const struct bucket *b = &rt->b[bi];
            /* Pass 2 visits farther buckets in order: stop once full. */
            if (pass == 2 && a.n == a.max)
                break;
            for (int i = 0; i < b->n; i++) {
                const struct vx_rt_contact *c = &b->c[i];
                if (only_confirmed && !c->confirmed)
                    continue;
                if (exclude && memcmp(c->id, exclude, VX_NODE_ID_LEN) == 0)
                    continue;
                acc_add(&a, c);
            }
        }
    }
    for (size_t i = 0; i < a.n && (size_t)n_out < max; i++) {
        if (rt->prefix_limit && !vx_dhtaddr_is_loopback(&tmp[i].addr)) {
            unsigned same = 0;
            for (int j = 0; j < n_out; j++)
                if (vx_dhtaddr_same_prefix(&out[j].addr, &tmp[i].addr))
                    same++;
            if (same >= rt->prefix_limit)
                continue;
        }
        out[n_out++] = tmp[i];
    }
    return (size_t)n_out;
}

size_t vx_rt_size(const struct vx_rt *rt)
{
    return rt->size;
}

size_t vx_rt_nonempty_buckets(const struct vx_rt *rt)
{
    size_t n = 0;
    for (int i = 0; i < VX_RT_BUCKETS; i++)
        n += rt->b[i].n != 0;
    return n;
}

int vx_rt_stale_bucket(const struct vx_rt *rt, uint64_t now_ms, uint64_t interval_ms)
{
    for (int i = 0; i < VX_RT_BUCKETS; i++)
        if (rt->b[i].n && rt->b[i].touched_ms + interval_ms <= now_ms)
            return i;
    return -1;
}

void vx_rt_touch(struct vx_rt *rt, const uint8_t target[VX_NODE_ID_LEN], uint64_t now_ms)
{
    int bi = vx_rt_bucket_of(rt, target);
    if (bi >= 0)
        rt->b[bi].touched_ms = now_ms;
}

void vx_rt_random_id(const struct vx_rt *rt, int bucket, uint8_t out[VX_NODE_ID_LEN])
{
    /* Same first `bucket` bits as self, bit `bucket` flipped, rest random. */
    int byte = bucket / 8, bit = 7 - bucket % 8;
    uint8_t mask = (uint8_t)(0xff << (bit + 1)); /* bits before `bucket` in this byte */
    randombytes_buf(out, VX_NODE_ID_LEN);
    memcpy(out, rt->self, (size_t)byte);
    out[byte] = (uint8_t)((rt->self[byte] & mask) | (~rt->self[byte] & (1u << bit)) |
                          (out[byte] & ((1u << bit) - 1)));
}

void vx_rt_foreach(const struct vx_rt *rt, int (*cb)(const struct vx_rt_contact *c, void *arg),
                   void *arg)
{
    for (int i = 0; i < VX_RT_BUCKETS; i++)
        for (int j = 0; j < rt->b[i].n; j++)
            if (cb(&rt->b[i].c[j], arg))
                return;
}
