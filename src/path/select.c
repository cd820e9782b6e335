/* select.c — relay selection (see select.h). */
#include "path/select.h"

#include <netinet/in.h>
#include <string.h>

#include "lib/err.h"
#include "wire/cell.h"

int vx_select_same_prefix(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const uint8_t *x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        const uint8_t *y = (const uint8_t *)&((const struct sockaddr_in *)b)->sin_addr;
        return memcmp(x, y, 2) == 0;
    }
    if (a->sa_family == AF_INET6) {
        const uint8_t *x = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
        const uint8_t *y = ((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr;
        return memcmp(x, y, 6) == 0;
    }
    return 0;
}

uint32_t vx_select_weight(const struct vx_relay_cand *c, uint64_t now)
{
    /* health in 1/1000: (s+1)/(s+f+2) */
    uint64_t h = (uint64_t)(c->successes + 1) * 1000 / ((uint64_t)c->successes + c->failures + 2);
    /* rtt factor: 1000 for <= 20 ms, falling as 20000/rtt, unknown = 300 */
    uint64_t rt = c->rtt_ms == 0 ? 300 : c->rtt_ms <= 20 ? 1000 : 20000 / c->rtt_ms;
    if (rt < 10)
        rt = 10;
    /* freshness: seen in the last hour counts fully, never seen a third */
    uint64_t fr = c->last_seen && now >= c->last_seen && now - c->last_seen < 3600 ? 3 : 1;
    uint64_t w = h * rt * fr / 1000;
    return w ? (uint32_t)w : 1;
}

static int excluded(const struct vx_relay_cand *c, const struct vx_select_opts *o)
{
    for (size_t i = 0; i < o->nexclude; i++)
        if (memcmp(o->exclude[i], c->id, VX_NODE_ID_LEN) == 0)
            return 1;
    return 0;
}

/* May pool[i] be hop h, given hops out[0..h)? */
static int eligible(const struct vx_relay_cand *pool, size_t i, unsigned h, const size_t *out,
                    const struct vx_select_opts *o)
{
    const struct vx_relay_cand *c = &pool[i];
    const struct sockaddr *ca = (const struct sockaddr *)&c->addr;
    if (!c->relay || excluded(c, o))
        return 0;
    for (unsigned j = 0; j < h; j++) {
        const struct vx_relay_cand *p = &pool[out[j]];
        if (out[j] == i || memcmp(p->id, c->id, VX_NODE_ID_LEN) == 0)
            return 0;
        if (o->diversity && vx_select_same_prefix((const struct sockaddr *)&p->addr, ca))
            return 0;
    }
    if (o->diversity && o->dest_addr && vx_select_same_prefix(o->dest_addr, ca))
        return 0;
    return 1;
}

int vx_select_relays(const struct vx_relay_cand *pool, size_t n, const struct vx_select_opts *o,
                     size_t *out)
{
    if (o->hops == 0 || o->hops > VX_CELL_MAX_HOPS || !o->rnd)
        return VX_ERR_INVAL;
    for (unsigned h = 0; h < o->hops; h++) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            if (eligible(pool, i, h, out, o))
                total += vx_select_weight(&pool[i], o->now);
        }
        if (total == 0)
            return VX_ERR_NOTFOUND;
        uint64_t pick = (((uint64_t)o->rnd(o->rnd_arg) << 32) | o->rnd(o->rnd_arg)) % total;
        /* second pass: same eligibility, find the picked weight slot */
        for (size_t i = 0; i < n; i++) {
            if (!eligible(pool, i, h, out, o))
                continue;
            uint32_t w = vx_select_weight(&pool[i], o->now);
            if (pick < w) {
                out[h] = i;
                break;
            }
            pick -= w;
        }
    }
    return 0;
}
