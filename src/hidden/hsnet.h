/* hsnet.h — hidden-service descriptors over the node's DHT (libev).
 *
 * Owner: one vx_hs_owner per `hidden: true` service publishes the HSDESC
 * records of hidden/hsdir.h through vx_dht_publish(): at once when the
 * intro points are set or change, and again from a timer before half the
 * descriptor lifetime is over and whenever the period set changes
 * (vx_hs_pub_next()).  Records of periods no longer current are
 * unpublished.  Until intro points are set nothing is published: a
 * descriptor without a way in would be useless.
 *
 * Client: vx_hs_resolve() looks up every position of the address's current
 * period(s) in parallel, feeds the answers to the threshold decision of
 * hidden/hsdir.h and reports once, within timeout_ms: 0 with the
 * descriptor, or VX_ERR_NOTFOUND (SOCKS 0xF0), VX_ERR_CORRUPT / VX_ERR_STALE
 * (0xF1), VX_ERR_AUTH_MISSING (0xF4), VX_ERR_AUTH (0xF5), VX_ERR_BADADDR
 * (0xF6, from the address).  Accepted descriptors are cached per address
 * until they expire, and their revision is remembered so that an older one
 * is never accepted again (VX_ERR_STALE).
 *
 * Lifetime: vx_hs_client_free() and vx_hs_owner_free() must run before
 * vx_dht_free() (owners unpublish; pending resolves are cancelled, and
 * their memory is released when the DHT's callbacks come back, or by
 * vx_hs_client_free() after the DHT is gone — see there).
 */
#ifndef VX6_HIDDEN_HSNET_H
#define VX6_HIDDEN_HSNET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "hidden/descriptor.h"

struct ev_loop;
struct vx_dht;

#define VX_HS_RESOLVE_TIMEOUT_MS 5000
#define VX_HS_CACHE_MAX          64

/* ---- owner ---- */

struct vx_hs_owner;

struct vx_hs_owner_stats {
    uint64_t revision;  /* last descriptor revision */
    uint64_t publishes; /* descriptor sets published */
    uint64_t next_unix; /* next scheduled republication (0: none) */
    int last_stored;    /* nodes that accepted the last record (-1: pending) */
    int last_err;       /* last build/publish error (0: none) */
    size_t records;     /* records currently published */
};

/* svc and dht must outlive the owner.  name is for logs.  lifetime 0:
 * VX_HSDESC_LIFETIME.  Never returns NULL. */
struct vx_hs_owner *vx_hs_owner_new(struct ev_loop *loop, struct vx_dht *dht,
                                    const struct vx_identity *svc, const char *name,
                                    uint32_t lifetime);
/* Unpublish and free.  Accepts NULL. */
void vx_hs_owner_free(struct vx_hs_owner *o);
/* Authorized clients' X25519 public keys (n 0: no client authorization).
 * Takes effect at the next publication (call set_intros to force one).
 * 0 or VX_ERR_TOOBIG (more than VX_HSDESC_MAX_CLIENTS). */
int vx_hs_owner_set_clients(struct vx_hs_owner *o, const uint8_t (*clients)[VX_X25519_LEN],
                            size_t n);
/* Set the intro points (1..5; those after the first VX_HSDESC_ACTIVE are
 * marked standby) and publish now.  0 or the build/publish error
 * (VX_ERR_INVAL, VX_ERR_TOOBIG). */
int vx_hs_owner_set_intros(struct vx_hs_owner *o, const struct vx_hs_intro *intros, size_t n);
/* Publish again now (the timer does this by itself). */
int vx_hs_owner_republish(struct vx_hs_owner *o);
void vx_hs_owner_stats(const struct vx_hs_owner *o, struct vx_hs_owner_stats *st);

/* ---- client ---- */

struct vx_hs_client;
struct vx_hs_resolve;

/* err 0: desc is the accepted descriptor (valid during the call). */
typedef void (*vx_hs_resolve_cb)(int err, const struct vx_hsdesc *desc, void *arg);

/* dht must outlive the client's use.  Never returns NULL. */
struct vx_hs_client *vx_hs_client_new(struct ev_loop *loop, struct vx_dht *dht);
/* Cancels pending resolves (no callback).  Their lookups still hold a
 * pointer until the DHT answers: call this only after vx_dht_free(), or
 * when no resolve is pending.  Accepts NULL. */
void vx_hs_client_free(struct vx_hs_client *c);

/* Resolve ADDRESS (56 characters, ".vx6" optional).  client_sk: X25519
 * secret for client authorization or NULL.  threshold 0: default;
 * timeout_ms 0: VX_HS_RESOLVE_TIMEOUT_MS.  Returns the pending resolve,
 * or NULL with *err set (VX_ERR_BADADDR, VX_ERR_LIMIT) — a cached
 * descriptor is also delivered through cb, from the loop, never from
 * inside this call. */
struct vx_hs_resolve *vx_hs_resolve(struct vx_hs_client *c, const char *address,
                                    const uint8_t *client_sk, unsigned threshold,
                                    uint32_t timeout_ms, vx_hs_resolve_cb cb, void *arg, int *err);
/* No callback will follow.  Accepts NULL. */
void vx_hs_resolve_cancel(struct vx_hs_resolve *r);

/* Forget cached descriptors (not the revisions seen). */
void vx_hs_client_flush(struct vx_hs_client *c);
/* Forget the cached descriptor of service pk if its revision is at most
 * `revision` (one that turned out useless: every intro point failed), so
 * that the next resolve asks the DHT.  1 if it was dropped, else 0. */
int vx_hs_client_forget(struct vx_hs_client *c, const uint8_t pk[VX_PK_LEN], uint64_t revision);

#endif
