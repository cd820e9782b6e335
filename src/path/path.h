/* path.h — from a name a proxy client asked for to a connected stream.
 *
 * vx_path_connect() classifies the host (front/name.h) and picks a way there:
 *   SERVICE.<v6>.ipv6.vx6  direct IPv6 mode: dial [v6]:node_port (4242 unless
 *                          configured), learn the node ID in the handshake,
 *                          open a stream to SERVICE:port
 *   USER.SERVICE.vx6       named mode: a resolver (the DHT + registry, see
 *                          struct vx_path_resolver) finds the node ID and its
 *                          endpoints and checks the USER -> key pin; then a
 *                          stream to that node ID (a changed key is
 *                          VX_ERR_KEYCHANGED before anything is dialled)
 *   ALIAS.vx6              a configured alias, replaced by its target name
 *   ADDRESS.vx6            a hidden service: a rendezvous through relays
 *                          (hidden/hsconn.h; VX_ERR_NOTFOUND while no
 *                          connector is set)
 *   anything else          clearnet: VX_ERR_DENIED unless allowed, then a
 *                          plain TCP connect (IP literal or a DNS name)
 * The result is either a vx6 stream (open, ready for vx_stream_splice_data())
 * or a connected socket: for clearnet the TCP connection, for relay circuits
 * and hidden services one end of a socketpair whose other end is spliced
 * into the circuit.  Every request completes in bounded time (the overall
 * timeout; hidden services at least VX_HS_CONNECT_TIMEOUT_MS + 1 s) and can
 * be cancelled at any moment.
 *
 * Routes (for SERVICE.<v6>.ipv6.vx6 and USER.SERVICE.vx6, once the node is
 * known), when a relay is set (vx_path_set_relay):
 *   direct  a stream to the node
 *   relay   an onion circuit of `hops` hops (the destination included;
 *           default the relay's hops) whose last hop is the node; its key
 *           comes from the key hook (the node's signed NODE record)
 *   auto    direct first; if that fails as unreachable or does not answer
 *           within the direct budget (VX_PATH_AUTO_DIRECT_MS, at most half
 *           the request's time), a relay circuit.  The destination is then
 *           remembered for VX_PATH_AUTO_MEMORY_MS: requests go through relays
 *           at once; the first one after that tries direct again (the probe)
 *           and a direct success forgets the failure.
 * Without a relay, auto means direct and relay fails with VX_ERR_UNREACH.
 */
#ifndef VX6_PATH_PATH_H
#define VX6_PATH_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"
#include "transport/transport.h"

#define VX_PATH_DEFAULT_NODE_PORT  4242
#define VX_PATH_DEFAULT_TIMEOUT_MS 10000
#define VX_PATH_MAX_ADDRS          8
#define VX_PATH_HOW_MAX            96
#define VX_PATH_AUTO_DIRECT_MS     3000
#define VX_PATH_AUTO_MEMORY_MS     60000

struct ev_loop;
struct vx_path;
struct vx_path_req;
struct vx_relay;
struct vx_hs_connector;

enum vx_route {
    VX_ROUTE_AUTO = 0,
    VX_ROUTE_DIRECT = 1,
    VX_ROUTE_RELAY = 2,
};

/* "auto", "direct", "relay"; and back (-1 if unknown). */
const char *vx_route_name(enum vx_route r);
int vx_route_parse(const char *s);

/* Per-request options. */
struct vx_path_opts {
    enum vx_route route;
    unsigned hops;       /* relay hops; 0: the default (unused by direct paths) */
    uint32_t timeout_ms; /* 0: the path's default */
    /* Stream isolation (not parsed: set by the caller, e.g. from SOCKS
     * credentials).  0: direct streams share the node's default session;
     * another value: direct streams use a session of their own per value
     * (vx_stream_target.isolation). */
    uint64_t isolation;
};

/* Parse per-request options carried in a SOCKS username or similar:
 * "key=value" items separated by ';' or ','.  Known keys: route
 * (auto|direct|relay), hops (1..8), timeout (milliseconds, 100..600000).
 * Items without '=' and unknown keys are ignored.  0, or VX_ERR_INVAL for a
 * known key with a bad value (opts is then left as it was). */
int vx_path_opts_parse(struct vx_path_opts *opts, const char *s);

struct vx_path_cbs {
    /* The connect finished.  err < 0: it failed (the request is freed
     * right after return).  err == 0: exactly one of stream (a vx6 stream,
     * open: give it a socket with vx_stream_splice_data()) and fd >= 0 (a
     * connected clearnet socket, now the callee's; the request is freed
     * right after return) is set. */
    void (*on_connected)(struct vx_path_req *req, int err, struct vx_stream *stream, int fd,
                         void *arg);
    /* A stream handed over by on_connected finished (err 0: both
     * directions done; < 0: reset or session lost).  The request is freed
     * right after return.  May be NULL. */
    void (*on_closed)(struct vx_path_req *req, int err, void *arg);
};

/* What a resolver found for USER.SERVICE. */
struct vx_path_node {
    uint8_t node_id[VX_NODE_ID_LEN];
    struct sockaddr_storage addrs[VX_PATH_MAX_ADDRS]; /* endpoints to dial, best first */
    socklen_t addrlens[VX_PATH_MAX_ADDRS];
    size_t naddrs;
    char how[VX_PATH_HOW_MAX]; /* for `vx6 resolve`: "DHT, 2 hops", "registry cache" */
    enum vx_route route;       /* the owner's policy (SERVICE record flags); AUTO: none */
};

/* Named-mode lookups (USER.SERVICE -> node), provided by the DHT/registry
 * layer.  start() begins a lookup and calls done(ctx, err, node) exactly
 * once, never from inside start(), unless cancel() is called first.  err is
 * VX_ERR_NOTFOUND (no record), VX_ERR_KEYCHANGED (USER is pinned to another
 * key), VX_ERR_BADSIG/VX_ERR_EXPIRED (bad record), VX_ERR_TIMEOUT...
 * start() returns a handle for cancel(), or NULL with *err set. */
typedef void (*vx_path_resolved_fn)(void *ctx, int err, const struct vx_path_node *node);
struct vx_path_resolver {
    void *(*start)(void *rarg, const char *user, const char *service, vx_path_resolved_fn done,
                   void *ctx, int *err);
    void (*cancel)(void *rarg, void *handle);
};

struct vx_path_alias {
    const char *name;   /* label, without ".vx6" */
    const char *target; /* "alice.web" or a hidden ADDRESS, ".vx6" optional */
};

struct vx_path_stats {
    uint64_t requests;       /* vx_path_connect() calls */
    uint64_t connected;      /* succeeded */
    uint64_t failed;         /* failed (immediately or later) */
    uint64_t timeouts;       /* ...of which by the overall timeout */
    uint64_t cancelled;      /* cancelled before completion */
    uint64_t active;         /* requests pending or streams open now */
    uint64_t relayed;        /* ...connected through a relay circuit */
    uint64_t hidden;         /* ...connected to a hidden service */
    uint64_t auto_fallbacks; /* route auto: direct failed, relay tried */
};

/* t may be NULL (only clearnet then works).  Never returns NULL. */
struct vx_path *vx_path_new(struct ev_loop *loop, struct vx_transport *t);
/* Cancels every pending request (no callbacks) and closes every stream it
 * handed out that is still open.  Accepts NULL. */
void vx_path_free(struct vx_path *p);

/* Settings; any time (reload).  Defaults: port 4242, 10 s, clearnet denied,
 * no aliases, no resolver. */
void vx_path_set_node_port(struct vx_path *p, uint16_t port);
void vx_path_set_timeout(struct vx_path *p, uint32_t ms);
void vx_path_set_clearnet(struct vx_path *p, int allow);
int vx_path_clearnet_allowed(const struct vx_path *p);
/* Replace the alias table (copied).  0 or VX_ERR_INVAL (a name that is no
 * DNS label, or duplicate). */
int vx_path_set_aliases(struct vx_path *p, const struct vx_path_alias *a, size_t n);
void vx_path_set_resolver(struct vx_path *p, const struct vx_path_resolver *r, void *rarg);

/* The Ed25519 key of a destination node for a relay circuit: by node_id
 * (named mode) or, when node_id is NULL, by the address it listens on
 * (direct IPv6 mode).  0 with pk filled, or VX_ERR_NOTFOUND. */
typedef int (*vx_path_key_fn)(void *arg, const uint8_t *node_id, const struct sockaddr *addr,
                              socklen_t addrlen, uint8_t pk[VX_PK_LEN]);
/* Relay circuits for route relay and auto (relay NULL: none; pending
 * circuit requests then fail with VX_ERR_CLOSED).  default_hops 0: 3.
 * relay must outlive the path or be unset first. */
void vx_path_set_relay(struct vx_path *p, struct vx_relay *relay, unsigned default_hops,
                       vx_path_key_fn key_fn, void *key_arg);
/* Hidden services (k NULL: none; pending ones fail with VX_ERR_CLOSED). */
void vx_path_set_hidden(struct vx_path *p, struct vx_hs_connector *k);
/* route auto: the direct attempt's budget and how long a failure sends a
 * destination through relays.  0 keeps a value. */
void vx_path_set_auto_policy(struct vx_path *p, uint32_t direct_ms, uint32_t memory_ms);
/* Destinations route auto sends through relays now. */
int vx_path_auto_relayed(const struct vx_path *p);

/* Connect to host:port.  host is what the client sent (a name or an IP
 * literal).  opts may be NULL.  Returns the pending request, or NULL with
 * *err set on immediate failure:
 *   VX_ERR_BADADDR  malformed .vx6 name (or alias target)
 *   VX_ERR_TOOBIG   host too long
 *   VX_ERR_DENIED   clearnet host while clearnet is not allowed
 *   VX_ERR_NOTFOUND unknown alias; hidden address without a connector;
 *                   named service with no resolver
 *   VX_ERR_UNREACH  route relay without a relay; no transport
 *   VX_ERR_BADADDR  also: a hidden address with a bad checksum or key
 *   VX_ERR_INVAL    port 0
 *   others from vx_transport_open() (VX_ERR_LIMIT) or socket(2)
 * Later failures come through on_connected: VX_ERR_TIMEOUT, VX_ERR_UNREACH,
 * VX_ERR_REFUSED, VX_ERR_NOTFOUND (no such service on that node),
 * VX_ERR_KEYCHANGED, VX_ERR_PEER_ID, and from hidden services those of
 * hidden/hsconn.h (VX_ERR_NOTFOUND: no descriptor, VX_ERR_INTRO_FAILED ...) */
struct vx_path_req *vx_path_connect(struct vx_path *p, const char *host, uint16_t port,
                                    const struct vx_path_opts *opts, const struct vx_path_cbs *cbs,
                                    void *arg, int *err);

/* Cancel a request: before on_connected nothing more happens; after it,
 * the stream is reset and released (closing its socket).  No callback
 * follows.  Accepts NULL. */
void vx_path_cancel(struct vx_path_req *req);

/* What the request is about, for logs: "web.2001-db8--1.ipv6.vx6:80". */
const char *vx_path_req_desc(const struct vx_path_req *req);

/* Describe without connecting what host resolves to (for `vx6 resolve`),
 * for every kind but named services (which need a lookup: see
 * vx_path_resolve()).  Writes one line into out.  0 or an error as for
 * vx_path_connect(). */
int vx_path_describe(const struct vx_path *p, const char *host, uint16_t port, char *out,
                     size_t cap);

/* Resolve host as vx_path_connect() would, without opening a stream.
 * done(ctx, err, line) is called exactly once (never from inside the call)
 * with a one-line description.  Returns a handle for vx_path_resolve_cancel()
 * or NULL with *err set (done is then not called). */
typedef void (*vx_path_describe_fn)(void *ctx, int err, const char *line);
struct vx_path_lookup;
struct vx_path_lookup *vx_path_resolve(struct vx_path *p, const char *host,
                                       vx_path_describe_fn done, void *ctx, int *err);
void vx_path_resolve_cancel(struct vx_path_lookup *lk);

void vx_path_get_stats(const struct vx_path *p, struct vx_path_stats *st);

#endif
