/* core.h — the DHT protocol engine, without I/O ("sans-IO").
 *
 * One vx_dhtcore is one DHT node: routing table, value store, store tokens,
 * per-source store rate limits, outstanding requests with timeouts and
 * retries, iterative lookups, publication and republication of own records,
 * replication and expiry of stored ones, bucket refresh.  It never touches
 * a socket or a clock: the driver hands it datagrams (vx_dhtcore_input),
 * calls vx_dhtcore_tick() when vx_dhtcore_next_deadline() is reached, and
 * sends what the core emits through ops->send.  The real DHT (dht.c, UDP +
 * libev) and the simulator (tests/sim/dhtsim.c, in-memory messages, virtual
 * time) are two drivers of this same code.
 *
 * Time: before each entry point the driver sets the clocks with
 * vx_dhtcore_set_time() (monotonic ms for timeouts, unix s for records).
 * Callbacks (ops and lookup/publish completions) run from inside
 * vx_dhtcore_input() and vx_dhtcore_tick(), never from the call that
 * started an operation.
 */
#ifndef VX6_DHT_CORE_H
#define VX6_DHT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "dht/dhtmsg.h"
#include "dht/routing.h"
#include "wire/record.h"

struct vx_dhtcore_conf {
    unsigned k;                    /* bucket size and replication (20) */
    unsigned alpha;                /* lookup parallelism (3) */
    unsigned prefix_limit;         /* per /48 or /24, per bucket and result set (2; 0 = off) */
    unsigned request_timeout_ms;   /* per attempt (700) */
    unsigned retries;              /* extra attempts after a timeout (1) */
    unsigned lookup_timeout_ms;    /* whole lookup (4000) */
    unsigned max_values;           /* stored records (8192) */
    unsigned store_burst;          /* per-source STORE token bucket size (16) */
    unsigned store_per_min;        /* and refill rate (30) */
    unsigned query_burst;          /* per-source bucket for every request (0 = off; vx6d */
    unsigned query_per_s;          /* sets limits.dht_rate/s with 10 s of burst) */
    unsigned query_limit_loopback; /* also limit loopback sources (0: exempt, local) */
    unsigned max_lookups;          /* concurrent lookups (256) */
    unsigned token_rotate_s;       /* store token secret rotation (300) */
    unsigned refresh_s;            /* bucket refresh after idle (900; 0 = off) */
    unsigned republish_s;          /* own records (1800) */
    unsigned replicate_s;          /* stored records to the k closest (3600; 0 = off) */
    unsigned ping_interval_ms;     /* min time between liveness pings of a contact (30000) */
};

void vx_dhtcore_conf_default(struct vx_dhtcore_conf *conf);

struct vx_dhtcore_ops {
    /* Send one datagram (best effort). */
    void (*send)(void *ctx, const struct vx_dhtaddr *to, const uint8_t *data, size_t len);
    /* A verified record worth caching was seen: a peer's NODE record
     * (PING/PONG) or a record found by a lookup.  May be NULL. */
    void (*record_seen)(void *ctx, const struct vx_record *rec);
    /* Outcome of a request to a known node.  May be NULL. */
    void (*peer_result)(void *ctx, const uint8_t id[VX_NODE_ID_LEN], int ok, uint32_t rtt_ms);
    /* A local cache to answer value lookups from before asking the network
     * (the registry).  Fill *out and return 0 if found.  May be NULL. */
    int (*cache_get)(void *ctx, const uint8_t key[VX_DHT_KEY_LEN], struct vx_record *out);
};

/* How a lookup ended. */
struct vx_dht_result {
    int err;                            /* 0, VX_ERR_NOTFOUND, VX_ERR_TIMEOUT */
    const struct vx_record *rec;        /* value lookups, when err == 0 */
    const struct vx_dht_contact *nodes; /* node lookups: closest that answered */
    size_t n_nodes;
    unsigned hops;     /* round trips to the node that had the value (0: cache) */
    unsigned queried;  /* nodes queried */
    unsigned messages; /* datagrams sent, retries included */
    int from_cache;    /* answered from the local store or cache */
    uint64_t elapsed_ms;
};

typedef void (*vx_dht_lookup_cb)(const struct vx_dht_result *res, void *arg);
/* Publication finished: number of nodes that accepted the record. */
typedef void (*vx_dht_publish_cb)(int stored, void *arg);

struct vx_dhtcore_stats {
    size_t contacts, buckets, values, published, lookups_active, pending;
    uint64_t msgs_in, msgs_out, bad_msgs;
    uint64_t stores_accepted, stores_rejected, stores_bad_token, stores_rate_limited;
    uint64_t queries_rate_limited; /* requests dropped unanswered by query_per_s */
    uint64_t lookups_ok, lookups_failed;
};

struct vx_dhtcore;

/* id: our node ID.  ident: our identity, used to sign the NODE record in
 * PONGs and to re-sign own records on republish (NULL in the simulator:
 * records are then republished unchanged).  Never returns NULL. */
struct vx_dhtcore *vx_dhtcore_new(const struct vx_dhtcore_conf *conf,
                                  const uint8_t id[VX_NODE_ID_LEN], const struct vx_identity *ident,
                                  const struct vx_dhtcore_ops *ops, void *ctx);
/* Outstanding lookups and publications are dropped without their
 * callbacks: the owner is going away.  Accepts NULL. */
void vx_dhtcore_free(struct vx_dhtcore *core);

void vx_dhtcore_set_time(struct vx_dhtcore *core, uint64_t now_ms, uint64_t now_unix);
const uint8_t *vx_dhtcore_id(const struct vx_dhtcore *core);

/* One received datagram. */
void vx_dhtcore_input(struct vx_dhtcore *core, const struct vx_dhtaddr *from, const uint8_t *data,
                      size_t len);
/* Timeouts and periodic work due at the current time. */
void vx_dhtcore_tick(struct vx_dhtcore *core);
/* Monotonic ms of the next tick needed (UINT64_MAX: none). */
uint64_t vx_dhtcore_next_deadline(const struct vx_dhtcore *core);

/* Ping each address (IDs unknown); nodes that answer join the routing table
 * and a lookup of our own ID follows.  0 or VX_ERR_INVAL (n == 0). */
int vx_dhtcore_bootstrap(struct vx_dhtcore *core, const struct vx_dhtaddr *addrs, size_t n);
/* Add a contact directly (e.g. a registry peer); it is pinged to confirm. */
void vx_dhtcore_add_contact(struct vx_dhtcore *core, const uint8_t id[VX_NODE_ID_LEN],
                            const struct vx_dhtaddr *addr);

/* Value lookup for key.  want_signer (NULL = any) only accepts records
 * signed by that key (e.g. the pinned key of a user).  0, VX_ERR_LIMIT. */
int vx_dhtcore_lookup(struct vx_dhtcore *core, const uint8_t key[VX_DHT_KEY_LEN],
                      const uint8_t *want_signer, vx_dht_lookup_cb cb, void *arg);
/* Node lookup: the k closest live nodes to target (in res->nodes). */
int vx_dhtcore_find_nodes(struct vx_dhtcore *core, const uint8_t target[VX_NODE_ID_LEN],
                          vx_dht_lookup_cb cb, void *arg);

/* Publish a verified record: store it locally and at the k closest nodes,
 * and republish it every republish_s (re-signed with a higher sequence
 * when it is ours and expiring) until unpublished.  A NODE record of our
 * own ID also becomes the record sent in PING/PONG.  cb may be NULL.
 * 0 or the verification error. */
int vx_dhtcore_publish(struct vx_dhtcore *core, const struct vx_record *rec, vx_dht_publish_cb cb,
                       void *arg);
int vx_dhtcore_unpublish(struct vx_dhtcore *core, const uint8_t key[VX_DHT_KEY_LEN]);

/* The stored value for key (NULL if none or expired). */
const struct vx_record *vx_dhtcore_get_value(const struct vx_dhtcore *core,
                                             const uint8_t key[VX_DHT_KEY_LEN]);

void vx_dhtcore_stats(const struct vx_dhtcore *core, struct vx_dhtcore_stats *st);
/* Called as each value or node lookup finishes (err 0 or its error), with
 * how long it took: the daemon's latency histogram.  fn NULL removes it. */
typedef void (*vx_dht_lookup_observer_fn)(uint64_t elapsed_ms, int err, void *arg);
void vx_dhtcore_set_lookup_observer(struct vx_dhtcore *core, vx_dht_lookup_observer_fn fn,
                                    void *arg);
const struct vx_rt *vx_dhtcore_rt(const struct vx_dhtcore *core);

#endif
