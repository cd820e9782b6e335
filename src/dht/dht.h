/* dht.h — the node's DHT: Kademlia over UDP on the daemon's libev loop.
 *
 * A thin driver around the sans-IO engine (dht/core.h): one UDP socket
 * (IPv6 dual-stack when bound to an IPv6 address), one ev_io and one
 * ev_timer re-armed to the engine's next deadline.  Peers are learned into
 * the registry (their signed NODE records, successes, failures and RTT) so
 * that a restart can bootstrap from it; verified SERVICE and NODE records
 * found by lookups are cached there too, and value lookups answer from it
 * first.  The registry may be NULL.
 *
 * A peer's DHT address is the address and port of its NODE record's
 * endpoints: the DHT shares the node port (UDP) with QUIC.  When the
 * daemon owns that UDP socket it passes the fd with vx_dht_attach_fd() and
 * feeds datagrams whose first byte is 0x01 (vx_dhtmsg_is_dht()) to
 * vx_dht_input(); otherwise vx_dht_listen() opens the DHT's own socket.
 */
#ifndef VX6_DHT_DHT_H
#define VX6_DHT_DHT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"
#include "dht/core.h"
#include "registry/registry.h"
#include "wire/record.h"

struct ev_loop;
struct vx_dht;

struct vx_dht_conf {
    struct vx_dhtcore_conf core;
    unsigned registry_bootstrap; /* registry peers tried by vx_dht_bootstrap (32) */
};

void vx_dht_conf_default(struct vx_dht_conf *conf);

/* conf may be NULL (defaults).  id and reg must outlive the DHT.  Never
 * returns NULL. */
struct vx_dht *vx_dht_new(struct ev_loop *loop, const struct vx_identity *id,
                          struct vx_registry *reg, const struct vx_dht_conf *conf);
/* Stops the watchers and closes a socket opened by vx_dht_listen().
 * Outstanding callbacks are not called.  Accepts NULL. */
void vx_dht_free(struct vx_dht *dht);

/* Bind a UDP socket (port 0 = any; IPv6 sockets accept IPv4 too).
 * 0, VX_ERR_EXISTS (already listening) or VX_ERR_SYS. */
int vx_dht_listen(struct vx_dht *dht, const struct sockaddr *sa, socklen_t len);
/* The bound address (after vx_dht_listen). */
int vx_dht_local_addr(const struct vx_dht *dht, struct sockaddr_storage *ss, socklen_t *len);
/* Send on a UDP socket owned by the caller, who reads it and passes DHT
 * datagrams to vx_dht_input(). */
int vx_dht_attach_fd(struct vx_dht *dht, int fd);
void vx_dht_input(struct vx_dht *dht, const uint8_t *data, size_t len, const struct sockaddr *from,
                  socklen_t fromlen);

/* Ping the n given addresses and up to conf.registry_bootstrap of the most
 * useful registry peers; those that answer join the routing table and a
 * lookup of our own ID follows.  n may be 0 (registry only).  0, or
 * VX_ERR_NOTFOUND when there is nobody at all to ask (a one-node network). */
int vx_dht_bootstrap(struct vx_dht *dht, const struct sockaddr_storage *addrs, size_t n);

/* Publish a record (signed by anyone; verified here): stored locally and at
 * the k closest nodes, republished periodically, re-signed before expiry
 * when it is ours.  cb (may be NULL) gets the number of nodes that
 * accepted it.  0 or a verification error. */
int vx_dht_publish(struct vx_dht *dht, const struct vx_record *rec, vx_dht_publish_cb cb,
                   void *arg);
int vx_dht_unpublish(struct vx_dht *dht, const uint8_t key[VX_DHT_KEY_LEN]);
/* Build, sign and publish our NODE record with these endpoints, valid for
 * lifetime_s; call again when addresses change (the sequence grows). */
int vx_dht_set_endpoints(struct vx_dht *dht, const struct vx_endpoint *eps, size_t n,
                         uint32_t lifetime_s);

/* Value lookup.  want_signer (NULL = any) restricts results to records
 * signed by that key (the pinned key of USER for USER.SERVICE).  cb runs
 * later, from the event loop, within conf.lookup_timeout_ms, with a
 * verified record or VX_ERR_NOTFOUND / VX_ERR_TIMEOUT, and how it was found
 * (hops, nodes queried, from cache).  0 or VX_ERR_LIMIT. */
int vx_dht_lookup(struct vx_dht *dht, const uint8_t key[VX_DHT_KEY_LEN], const uint8_t *want_signer,
                  vx_dht_lookup_cb cb, void *arg);
/* A node's NODE record (its endpoints), by node ID: same callback. */
int vx_dht_find_node(struct vx_dht *dht, const uint8_t node_id[VX_NODE_ID_LEN], vx_dht_lookup_cb cb,
                     void *arg);

struct vx_dht_stats {
    struct vx_dhtcore_stats core;
    int listening;
    uint64_t send_errors;
};
void vx_dht_stats(const struct vx_dht *dht, struct vx_dht_stats *st);
/* Lookup latency hook (see vx_dhtcore_set_lookup_observer). */
void vx_dht_set_lookup_observer(struct vx_dht *dht, vx_dht_lookup_observer_fn fn, void *arg);
/* Routing-table contacts (for `vx6 peers`); stop when cb returns non-zero. */
void vx_dht_foreach_peer(const struct vx_dht *dht,
                         int (*cb)(const struct vx_rt_contact *c, void *arg), void *arg);

#endif
