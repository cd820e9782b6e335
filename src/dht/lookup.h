/* lookup.h — the iterative Kademlia lookup, as a pure state machine.
 *
 * Candidates are kept sorted by XOR distance to the target.  The driver
 * asks vx_lookup_next() whom to query (at most alpha requests in flight,
 * always among the k closest candidates not known to have failed), and
 * reports each reply, stall (first timeout: the request is retried but no
 * longer counts against alpha) and failure.  The lookup has converged when
 * the k closest live candidates have all answered.  At most prefix_limit
 * candidates share an IPv6 /48 or IPv4 /24 (loopback exempt; 0 = no limit),
 * so the result set is diverse.  No I/O, no clock: the same code drives the
 * real DHT and the simulator.
 */
#ifndef VX6_DHT_LOOKUP_H
#define VX6_DHT_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "dht/dhtmsg.h"

#define VX_LOOKUP_MAX_CANDS 200

enum vx_cand_state {
    VX_CAND_NEW = 0,
    VX_CAND_INFLIGHT,
    VX_CAND_STALLED,
    VX_CAND_OK,
    VX_CAND_FAILED,
};

struct vx_lookup_cand {
    struct vx_dht_contact c;
    uint8_t state;
    uint8_t hops; /* 1 for seeds, parent + 1 for learned ones */
    uint8_t has_token;
    uint8_t token[VX_DHT_TOKEN_LEN];
};

struct vx_lookup {
    uint8_t target[VX_NODE_ID_LEN];
    uint8_t self[VX_NODE_ID_LEN];
    unsigned k, alpha, prefix_limit;
    unsigned inflight; /* INFLIGHT only: STALLED ones do not count */
    unsigned queried;  /* requests started */
    unsigned n;
    struct vx_lookup_cand cand[VX_LOOKUP_MAX_CANDS]; /* slots, stable indices */
    uint8_t order[VX_LOOKUP_MAX_CANDS];              /* slot indices, closest first */
};

void vx_lookup_init(struct vx_lookup *lk, const uint8_t target[VX_NODE_ID_LEN],
                    const uint8_t self[VX_NODE_ID_LEN], unsigned k, unsigned alpha,
                    unsigned prefix_limit);

/* Offer a candidate learned at `hops`.  Ignored if it is us, already
 * known, over the prefix limit or farther than anything useful.  Returns
 * 1 if added. */
int vx_lookup_add(struct vx_lookup *lk, const struct vx_dht_contact *c, unsigned hops);

/* Slot index of the next candidate to query (now marked INFLIGHT), or -1. */
int vx_lookup_next(struct vx_lookup *lk);

/* Outcomes for slot i. */
void vx_lookup_replied(struct vx_lookup *lk, int i, const uint8_t *token);
void vx_lookup_stalled(struct vx_lookup *lk, int i);
void vx_lookup_failed(struct vx_lookup *lk, int i);

/* Converged: nothing in flight or stalled and nothing left to query. */
int vx_lookup_done(const struct vx_lookup *lk);

/* Slot indices of up to max closest candidates that answered. */
size_t vx_lookup_results(const struct vx_lookup *lk, int *out, size_t max);

#endif
