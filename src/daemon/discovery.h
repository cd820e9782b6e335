/* discovery.h — vx6d's discovery module (slot VX_SLOT_DHT): the registry,
 * the DHT and named-service resolution.
 *
 * start:  opens DATA_DIR/registry.bin (a damaged file is moved aside with a
 *         warning), runs the DHT on UDP at the first `listen` address (the
 *         node port; TCP and QUIC use the same port number), bootstraps from
 *         `bootstrap` and the registry's best peers, and publishes:
 *           NODE      this node's endpoints: the listen addresses, or for a
 *                     wildcard listener the host's global and ULA addresses
 *                     (IPv6 first), each with the transports bitmask
 *           USERNAME  a claim of `user` for this node's key (if set)
 *           SERVICE   USER.NAME -> this node and its virtual ports, for each
 *                     service that is not hidden
 *         and registers the control commands resolve, trust, peers, publish,
 *         unpublish and alias.
 * reload: records of removed or now hidden services are withdrawn, new ones
 *         published, changed ones re-signed; the USERNAME claim follows
 *         `user`; new bootstrap peers are pinged.
 * timers: the registry is saved when dirty (every 30 s and on stop); every
 *         minute the module re-adds registry peers when the routing table is
 *         thin and fetches the signed NODE records of a few routing-table
 *         contacts the registry does not know yet (bounded peer sync).
 *
 * Resolution of USER.SERVICE (vx_discovery_resolve): USERNAME(USER) — the
 * first key seen is pinned in the registry, a different one is
 * VX_ERR_KEYCHANGED — then SERVICE(USER.SERVICE) signed by the pinned key,
 * then the NODE record of the service's node for its endpoints.  Each step
 * answers from the local store or registry first and asks the DHT second; the
 * whole resolution is bounded by VX_DISCO_RESOLVE_MS.
 *
 * Address changes (daemon/netwatch.h) republish the NODE record with a
 * higher sequence and call the rebind hook (QUIC connection migration).
 */
#ifndef VX6_DAEMON_DISCOVERY_H
#define VX6_DAEMON_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/daemon.h"
#include "dht/dht.h"
#include "registry/registry.h"
#include "wire/record.h"

#define VX_DISCO_RESOLVE_MS 8000  /* a whole USER.SERVICE resolution */
#define VX_DISCO_LIFETIME_S 86400 /* own records (VX6_RECORD_LIFETIME overrides) */
#define VX_DISCO_SAVE_S     30    /* registry save interval when dirty */
#define VX_DISCO_SYNC_S     60    /* peer sync interval */
#define VX_DISCO_MAX_ADDRS  8
#define VX_DISCO_HOW_MAX    96
#define VX_DISCO_STALE_S    30 /* a cached NODE record older than this is re-checked */

struct vx_discovery;

/* The module; pass a vx_discovery_new() as arg:
 *     vx_daemon_set_module(d, VX_SLOT_DHT, &vx_discovery_module, vx_discovery_new()); */
extern const struct vx_daemon_module_ops vx_discovery_module;

/* Never NULL.  Freed by the module's free hook (vx_daemon_free()). */
struct vx_discovery *vx_discovery_new(void);

/* For other modules (hidden services, path): NULL before start. */
struct vx_dht *vx_discovery_dht(const struct vx_discovery *ds);
struct vx_registry *vx_discovery_registry(const struct vx_discovery *ds);
/* The daemon's loop (set once the module starts). */
struct ev_loop *vx_discovery_loop(const struct vx_discovery *ds);

/* What a resolution found. */
enum vx_pin_state {
    VX_PIN_MATCH = 0, /* USER was pinned to this key already */
    VX_PIN_NEW = 1,   /* first use: pinned now */
};

struct vx_disco_result {
    uint8_t node_id[VX_NODE_ID_LEN];
    struct sockaddr_storage addrs[VX_DISCO_MAX_ADDRS]; /* endpoints to dial, IPv6 first */
    socklen_t addrlens[VX_DISCO_MAX_ADDRS];
    size_t naddrs;
    char how[VX_DISCO_HOW_MAX]; /* "registry cache", "DHT: 3 hops, 9 nodes queried, 41 ms" */
    enum vx_pin_state pin;
    struct vx_record service; /* the SERVICE record */
    struct vx_record node;    /* the NODE record */
    uint8_t user_key[VX_PK_LEN];
};

/* done(ctx, err, res): res is valid only during the call; NULL on error,
 * except VX_ERR_KEYCHANGED where res->user_key is the key now offered.
 * err: VX_ERR_NOTFOUND (no claim, no service or no node record),
 * VX_ERR_KEYCHANGED (USER is pinned to another key: see `vx6 trust`),
 * VX_ERR_TIMEOUT, VX_ERR_BADADDR (bad labels). */
typedef void (*vx_disco_done_fn)(void *ctx, int err, const struct vx_disco_result *res);
struct vx_disco_lookup;

/* Start a resolution.  done runs exactly once, later, from the loop, unless
 * the lookup is cancelled first.  flags: VX_DISCO_FRESH skips the caches
 * for the NODE record (after a failed dial to a cached endpoint).  Returns
 * the handle or NULL with *err set (VX_ERR_BADADDR, VX_ERR_INVAL when the
 * module is not running). */
#define VX_DISCO_FRESH 0x1u
struct vx_disco_lookup *vx_discovery_resolve(struct vx_discovery *ds, const char *user,
                                             const char *service, unsigned flags,
                                             vx_disco_done_fn done, void *ctx, int *err);
/* No callback follows.  Accepts NULL. */
void vx_discovery_resolve_cancel(struct vx_disco_lookup *lk);

/* A dial to node_id at a cached endpoint failed: forget the cached NODE
 * record so that the next resolution asks the network. */
void vx_discovery_endpoint_failed(struct vx_discovery *ds, const uint8_t node_id[VX_NODE_ID_LEN]);

/* Republish the NODE record now (the netwatch calls this when the host's
 * addresses changed).  0 or an error from vx_dht_set_endpoints(). */
int vx_discovery_refresh_endpoints(struct vx_discovery *ds);

/* fn(ds, dht, arg) runs during the module's start, after the DHT exists and
 * before it opens its own UDP socket: it may give the DHT a shared socket
 * with vx_dht_attach_fd() (QUIC on the node port) and wire modules of lower
 * slots (see disco_path.h).  Set before vx_daemon_start(). */
void vx_discovery_set_start_hook(struct vx_discovery *ds,
                                 void (*fn)(struct vx_discovery *ds, struct vx_dht *dht, void *arg),
                                 void *arg);

/* Called after the NODE record was republished because addresses changed
 * (the transport's QUIC rebind).  fn may be NULL. */
void vx_discovery_set_rebind_hook(struct vx_discovery *ds, void (*fn)(void *arg), void *arg);

/* Aliases in force: the config's `aliases:` and the registry's (`vx6 alias
 * add`), the config winning a name both define.  Target or NULL. */
const char *vx_discovery_alias(const struct vx_discovery *ds, const char *name);
/* Called whenever the registry's aliases change (the path layer rebuilds
 * its alias table).  fn may be NULL. */
void vx_discovery_set_alias_hook(struct vx_discovery *ds, void (*fn)(void *arg), void *arg);
void vx_discovery_foreach_alias(const struct vx_discovery *ds,
                                int (*cb)(const char *name, const char *target, int from_config,
                                          void *arg),
                                void *arg);

/* Endpoints this node advertises, computed from listen addresses and, for
 * wildcards, the host's interfaces (exposed for tests).  Returns the count. */
size_t vx_discovery_local_endpoints(const struct vx_addr *listen, size_t n_listen,
                                    uint8_t transports, struct vx_endpoint *out, size_t max);

/* Parse a public key as `vx6 resolve` prints it (64 hex digits) or as 52
 * base32 characters.  0 or VX_ERR_BADADDR. */
int vx_discovery_parse_key(const char *s, uint8_t pk[VX_PK_LEN]);

#endif
