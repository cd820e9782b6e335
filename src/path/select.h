/* select.h — choosing relays for a circuit (pure: no I/O, caller's RNG).
 *
 * Candidates come from the registry/DHT peers (the daemon fills the array
 * from vx_registry_best_peers()).  A candidate is eligible when it offers
 * relaying, is not excluded (the client itself, the destination, relays that
 * failed this request) and, with diversity on, shares no /16 (IPv4) or /48
 * (IPv6) prefix with a hop already chosen or with the destination.  Among
 * eligible candidates the choice is random, weighted by health (Laplace-
 * smoothed success ratio, recently seen) and RTT (faster is likelier).
 */
#ifndef VX6_PATH_SELECT_H
#define VX6_PATH_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"

struct vx_relay_cand {
    uint8_t pk[VX_PK_LEN];
    uint8_t id[VX_NODE_ID_LEN]; /* BLAKE2b(pk); filled by the caller */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t successes, failures;
    uint32_t rtt_ms;    /* 0: unknown */
    uint64_t last_seen; /* unix s, 0: never */
    int relay;          /* offers relaying */
};

struct vx_select_opts {
    unsigned hops; /* relays wanted (1..VX_CELL_MAX_HOPS) */
    int diversity; /* enforce the prefix rules */
    uint64_t now;  /* unix s, for freshness */
    const uint8_t (*exclude)[VX_NODE_ID_LEN];
    size_t nexclude;
    const struct sockaddr *dest_addr; /* may be NULL */
    uint32_t (*rnd)(void *arg);       /* uniform 32-bit random numbers */
    void *rnd_arg;
};

/* 1 if a and b share a /16 (IPv4) or /48 (IPv6) prefix. */
int vx_select_same_prefix(const struct sockaddr *a, const struct sockaddr *b);
/* Weight of a candidate (> 0), for tests and `vx6 peers`. */
uint32_t vx_select_weight(const struct vx_relay_cand *c, uint64_t now);
/* Fill out[0..hops) with indices into pool.  0 or VX_ERR_NOTFOUND when not
 * enough eligible, diverse candidates exist. */
int vx_select_relays(const struct vx_relay_cand *pool, size_t n, const struct vx_select_opts *o,
                     size_t *out);

#endif
