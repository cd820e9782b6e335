/* routing.h — Kademlia routing table (pure: no I/O, no clock).
 *
 * 256 k-buckets indexed by the length of the prefix a contact's ID shares
 * with ours (bucket 0 holds the farther half of the ID space).  Inside a
 * bucket contacts are kept least-recently-seen first.  At most
 * `prefix_limit` contacts of one bucket may share an IPv6 /48 or IPv4 /24
 * (loopback is exempt; 0 disables the rule).  When a bucket is full a new
 * contact is remembered as the bucket's replacement and the caller is asked
 * to ping the least-recently-seen contact; a contact that keeps failing is
 * evicted and the replacement takes its place.
 *
 * Contacts learned only from their own queries are "unconfirmed" until they
 * answer one of ours; only confirmed contacts are handed to others.
 */
#ifndef VX6_DHT_ROUTING_H
#define VX6_DHT_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include "dht/dhtmsg.h"

#define VX_RT_BUCKETS 256

struct vx_rt_contact {
    uint8_t id[VX_NODE_ID_LEN];
    struct vx_dhtaddr addr;
    uint64_t last_seen_ms;
    uint64_t last_ping_ms;
    uint32_t rtt_ms;
    uint8_t fails;
    uint8_t confirmed;
};

enum vx_rt_update_result {
    VX_RT_UPDATED = 0,  /* known contact refreshed */
    VX_RT_ADDED = 1,    /* new contact inserted */
    VX_RT_FULL = 2,     /* bucket full: kept as replacement */
    VX_RT_REJECTED = 3, /* our own ID, or the prefix limit */
    VX_RT_PING = 4,     /* bucket full: kept as replacement; ping *lrs */
};

struct vx_rt;

/* Never returns NULL. */
struct vx_rt *vx_rt_new(const uint8_t self[VX_NODE_ID_LEN], unsigned k, unsigned prefix_limit);
void vx_rt_free(struct vx_rt *rt);

/* Bucket index of id (0..255), or -1 for our own ID. */
int vx_rt_bucket_of(const struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN]);

/* A contact was heard from at now_ms.  confirmed != 0 when it answered one
 * of our requests from addr (its address is then updated; an unconfirmed
 * message never moves a known contact to another address).  rtt_ms > 0 is
 * folded into the contact's RTT.  When the bucket is full the contact
 * becomes the bucket's replacement and the result is VX_RT_FULL, or
 * VX_RT_PING when the least-recently-seen contact (copied to *lrs) has not
 * been pinged for ping_interval_ms: the caller pings it and reports the
 * outcome through vx_rt_update()/vx_rt_failed(). */
int vx_rt_update(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN], const struct vx_dhtaddr *addr,
                 int confirmed, uint32_t rtt_ms, uint64_t now_ms, uint64_t ping_interval_ms,
                 struct vx_rt_contact *lrs);

/* A request to id failed.  hard != 0 evicts at once; else the contact is
 * evicted after 2 consecutive failures (1 if unconfirmed).  An evicted
 * contact's place goes to the bucket's replacement.  Returns 1 if evicted. */
int vx_rt_failed(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN], int hard);

int vx_rt_remove(struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN]);
const struct vx_rt_contact *vx_rt_get(const struct vx_rt *rt, const uint8_t id[VX_NODE_ID_LEN]);

/* Up to max contacts closest to target by XOR distance, closest first.
 * only_confirmed skips unconfirmed contacts; exclude (may be NULL) is
 * skipped too; at most prefix_limit per /48 or /24 are returned. */
size_t vx_rt_closest(const struct vx_rt *rt, const uint8_t target[VX_NODE_ID_LEN],
                     struct vx_dht_contact *out, size_t max, int only_confirmed,
                     const uint8_t *exclude);

size_t vx_rt_size(const struct vx_rt *rt);
size_t vx_rt_nonempty_buckets(const struct vx_rt *rt);

/* Bucket refresh: the index of a non-empty bucket not looked into since
 * before now_ms - interval_ms (-1 if none); mark a bucket looked into; a
 * random ID that falls into a bucket. */
int vx_rt_stale_bucket(const struct vx_rt *rt, uint64_t now_ms, uint64_t interval_ms);
void vx_rt_touch(struct vx_rt *rt, const uint8_t target[VX_NODE_ID_LEN], uint64_t now_ms);
void vx_rt_random_id(const struct vx_rt *rt, int bucket, uint8_t out[VX_NODE_ID_LEN]);

/* Calls cb for every contact; stops when cb returns non-zero. */
void vx_rt_foreach(const struct vx_rt *rt, int (*cb)(const struct vx_rt_contact *c, void *arg),
                   void *arg);

/* XOR-distance comparison of a and b to target: <0 if a is closer. */
int vx_id_cmp_dist(const uint8_t *target, const uint8_t *a, const uint8_t *b);

#endif
