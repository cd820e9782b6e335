/* lookup.c — iterative lookup state machine (pure). */
#include "dht/lookup.h"

#include <string.h>

#include "dht/routing.h"

void vx_lookup_init(struct vx_lookup *lk, const uint8_t target[VX_NODE_ID_LEN],
                    const uint8_t self[VX_NODE_ID_LEN], unsigned k, unsigned alpha,
                    unsigned prefix_limit)
{
    memset(lk, 0, offsetof(struct vx_lookup, cand));
    memcpy(lk->target, target, VX_NODE_ID_LEN);
    memcpy(lk->self, self, VX_NODE_ID_LEN);
    lk->k = k ? k : 20;
    lk->alpha = alpha ? alpha : 3;
    lk->prefix_limit = prefix_limit;
}

int vx_lookup_add(struct vx_lookup *lk, const struct vx_dht_contact *c, unsigned hops)
{
    unsigned pos, same = 0, live = 0;

    if (memcmp(c->id, lk->self, VX_NODE_ID_LEN) == 0)
        return 0;
    for (unsigned i = 0; i < lk->n; i++) {
        const struct vx_lookup_cand *x = &lk->cand[i];
        if (memcmp(x->c.id, c->id, VX_NODE_ID_LEN) == 0)
            return 0;
        if (lk->prefix_limit && !vx_dhtaddr_is_loopback(&c->addr) &&
            vx_dhtaddr_same_prefix(&x->c.addr, &c->addr))
            same++;
    }
    /* A loose cap against one network flooding the candidate list; the
     * exact per-prefix limit is applied in distance order by window(). */
    if (lk->prefix_limit && same >= 2 * lk->prefix_limit)
        return 0;
    /* Position in distance order; candidates beyond 3k live ones are useless. */
    for (pos = 0; pos < lk->n; pos++) {
        const struct vx_lookup_cand *x = &lk->cand[lk->order[pos]];
        if (vx_id_cmp_dist(lk->target, c->id, x->c.id) < 0)
            break;
        if (x->state != VX_CAND_FAILED)
            live++;
    }
    if (live >= 3 * lk->k)
        return 0;
    unsigned slot = lk->n;
    if (lk->n == VX_LOOKUP_MAX_CANDS) {
        /* Full: reuse the slot of the farthest candidate farther than this
         * one that no request refers to (never queried, or failed). */
        unsigned q = lk->n;
        while (q > pos) {
            uint8_t st = lk->cand[lk->order[q - 1]].state;
            if (st == VX_CAND_NEW || st == VX_CAND_FAILED)
                break;
            q--;
        }
        if (q == pos)
            return 0;
        slot = lk->order[q - 1];
        memmove(&lk->order[q - 1], &lk->order[q], lk->n - q);
        lk->n--;
    }
    struct vx_lookup_cand *nc = &lk->cand[slot];
    memset(nc, 0, sizeof(*nc));
    nc->c = *c;
    nc->hops = (uint8_t)(hops > 255 ? 255 : hops);
    memmove(&lk->order[pos + 1], &lk->order[pos], lk->n - pos);
    lk->order[pos] = (uint8_t)slot;
    lk->n++;
    return 1;
}

/* The current window: slot indices of the k closest candidates not known
 * to have failed, at most prefix_limit per /48 or /24, closest first. */
static size_t window(const struct vx_lookup *lk, int *out)
{
    size_t n = 0;
    for (unsigned p = 0; p < lk->n && n < lk->k; p++) {
        const struct vx_lookup_cand *x = &lk->cand[lk->order[p]];
        if (x->state == VX_CAND_FAILED)
            continue;
        if (lk->prefix_limit && !vx_dhtaddr_is_loopback(&x->c.addr)) {
            unsigned same = 0;
            for (size_t j = 0; j < n; j++)
                if (vx_dhtaddr_same_prefix(&lk->cand[out[j]].c.addr, &x->c.addr))
                    same++;
            if (same >= lk->prefix_limit)
                continue;
        }
        out[n++] = lk->order[p];
    }
    return n;
}

int vx_lookup_next(struct vx_lookup *lk)
{
    int w[VX_LOOKUP_MAX_CANDS];
    size_t n;
    if (lk->inflight >= lk->alpha)
        return -1;
    n = window(lk, w);
    for (size_t i = 0; i < n; i++) {
        struct vx_lookup_cand *x = &lk->cand[w[i]];
        if (x->state == VX_CAND_NEW) {
            x->state = VX_CAND_INFLIGHT;
            lk->inflight++;
            lk->queried++;
            return w[i];
        }
    }
    return -1;
}

static void leave_inflight(struct vx_lookup *lk, struct vx_lookup_cand *x)
{
    if (x->state == VX_CAND_INFLIGHT && lk->inflight)
        lk->inflight--;
}

void vx_lookup_replied(struct vx_lookup *lk, int i, const uint8_t *token)
{
    struct vx_lookup_cand *x;
    if (i < 0 || (unsigned)i >= lk->n)
        return;
    x = &lk->cand[i];
    leave_inflight(lk, x);
    x->state = VX_CAND_OK;
    if (token) {
        memcpy(x->token, token, VX_DHT_TOKEN_LEN);
        x->has_token = 1;
    }
}

void vx_lookup_stalled(struct vx_lookup *lk, int i)
{
    struct vx_lookup_cand *x;
    if (i < 0 || (unsigned)i >= lk->n)
        return;
    x = &lk->cand[i];
    if (x->state == VX_CAND_INFLIGHT) {
        leave_inflight(lk, x);
        x->state = VX_CAND_STALLED;
    }
}

void vx_lookup_failed(struct vx_lookup *lk, int i)
{
    struct vx_lookup_cand *x;
    if (i < 0 || (unsigned)i >= lk->n)
        return;
    x = &lk->cand[i];
    leave_inflight(lk, x);
    x->state = VX_CAND_FAILED;
}

int vx_lookup_done(const struct vx_lookup *lk)
{
    int w[VX_LOOKUP_MAX_CANDS];
    size_t n = window(lk, w);
    /* Farther requests still in flight do not matter once the window has
     * answered. */
    for (size_t i = 0; i < n; i++)
        if (lk->cand[w[i]].state != VX_CAND_OK)
            return 0;
    return 1;
}

size_t vx_lookup_results(const struct vx_lookup *lk, int *out, size_t max)
{
    int w[VX_LOOKUP_MAX_CANDS];
    size_t n = window(lk, w), m = 0;
    for (size_t i = 0; i < n && m < max; i++)
        if (lk->cand[w[i]].state == VX_CAND_OK)
            out[m++] = w[i];
    return m;
}
