/* limits.h — per-client connection limits and per-prefix rate limits.
 *
 * Pure bookkeeping (no I/O, no clock of its own): the front-end asks
 * vx_connlimit_acquire() before serving an accepted connection and calls
 * vx_connlimit_release() when it closes; the DHT asks vx_ratelimit_allow()
 * for each request it would answer.
 *
 * Clients are grouped by address prefix: an IPv4 address (or an
 * IPv4-mapped IPv6 address) by its /v4_bits, an IPv6 address by its
 * /v6_bits — one host usually owns a whole IPv6 /64.  Tables are sized at
 * creation and never grow; lookups hash the prefix with a per-table random
 * SipHash key so remote peers cannot aim at one hash chain.  All operations
 * are O(1) expected.
 */
#ifndef VX6_LIB_LIMITS_H
#define VX6_LIB_LIMITS_H

#include <stdint.h>
#include <sys/socket.h>

/* A masked address prefix, usable as a key. */
struct vx_prefix {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t bits;
    uint8_t addr[16]; /* IPv4 in the first 4 bytes; bits past `bits` are 0 */
};

/* Prefix of an AF_INET/AF_INET6 socket address; IPv4-mapped IPv6 addresses
 * count as IPv4.  bits are clamped to 32 / 128.  0 or VX_ERR_BADADDR. */
int vx_prefix_from_sockaddr(const struct sockaddr *sa, unsigned v4_bits, unsigned v6_bits,
                            struct vx_prefix *out);

/* ---- concurrent connections: at most max_total, at most max_per_client
 * per IPv4 address or IPv6 /64 ---- */

struct vx_connlimit;

/* Never returns NULL.  max_total and max_per_client are at least 1. */
struct vx_connlimit *vx_connlimit_new(unsigned max_total, unsigned max_per_client);
void vx_connlimit_free(struct vx_connlimit *cl); /* accepts NULL */

/* Count one connection from sa.  0, VX_ERR_LIMIT (total or per-client limit
 * reached; nothing counted) or VX_ERR_BADADDR. */
int vx_connlimit_acquire(struct vx_connlimit *cl, const struct sockaddr *sa);
/* Uncount one.  0, VX_ERR_NOTFOUND if sa holds none, or VX_ERR_BADADDR. */
int vx_connlimit_release(struct vx_connlimit *cl, const struct sockaddr *sa);
unsigned vx_connlimit_total(const struct vx_connlimit *cl);
/* Connections counted for sa's client (0 if none or a bad address). */
unsigned vx_connlimit_count(const struct vx_connlimit *cl, const struct sockaddr *sa);
/* Distinct clients holding connections. */
unsigned vx_connlimit_clients(const struct vx_connlimit *cl);

/* ---- token buckets keyed by prefix ---- */

struct vx_ratelimit_cfg {
    double rate;       /* tokens added per second, > 0 */
    double burst;      /* bucket size, >= 1; a new key starts full */
    unsigned max_keys; /* prefixes tracked; the least recently used is
                        * forgotten to make room for a new one */
    unsigned v4_bits;  /* e.g. 32, or 24 to pool a /24 */
    unsigned v6_bits;  /* e.g. 64, or 48/56 */
};

struct vx_ratelimit_stats {
    uint64_t allowed;
    uint64_t limited;
    uint64_t evicted; /* keys forgotten for room */
    unsigned keys;    /* keys tracked now */
};

struct vx_ratelimit;

/* Never returns NULL; VX_ERR-free: invalid values are clamped (rate to
 * 0.001/s..1e6/s, burst to 1..1e6, max_keys to at least 1). */
struct vx_ratelimit *vx_ratelimit_new(const struct vx_ratelimit_cfg *cfg);
void vx_ratelimit_free(struct vx_ratelimit *rl); /* accepts NULL */

/* Take one token from sa's bucket at time now_ms (a monotonic clock, e.g.
 * vx_time_mono_ms(); it must not go backwards).  0 if allowed, VX_ERR_LIMIT
 * if the bucket is empty, VX_ERR_BADADDR. */
int vx_ratelimit_allow(struct vx_ratelimit *rl, const struct sockaddr *sa, uint64_t now_ms);
void vx_ratelimit_get_stats(const struct vx_ratelimit *rl, struct vx_ratelimit_stats *st);

#endif
