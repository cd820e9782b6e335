/* circuit.h — onion-layered relay circuits: client, relay and exit roles.
 *
 * A circuit is built hop by hop (telescoping) over VX_TARGET_RELAY streams:
 * the client opens a stream to the first relay and runs a CREATE/CREATED
 * handshake with it (path/onion.h); then, through the layers it has, asks the
 * newest hop to EXTEND to the next one, which opens a stream there and passes
 * CREATE/CREATED along.  The last hop is the destination node itself: it
 * opens the innermost layer and connects the stream to one of its published
 * services (BEGIN).  A relay learns only its previous and next hop.
 *
 * Hop count: `hops` counts every hop including the destination, so a 3-hop
 * circuit is client -> R1 -> R2 -> destination.
 *
 * Client authentication: with req->auth the client signs the exit's handshake
 * binding (Ed25519) inside BEGIN, so the destination learns the client's node
 * ID end to end and can apply a service's allow list.  Without it the client
 * is anonymous and services that have an allow list refuse it (DENIED).
 *
 * One struct vx_relay per daemon plays every role.  Install
 * vx_relay_accept() for incoming VX_TARGET_RELAY streams (the daemon's accept
 * dispatcher calls it with the vx_relay as arg).
 */
#ifndef VX6_PATH_CIRCUIT_H
#define VX6_PATH_CIRCUIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"
#include "path/select.h"
#include "transport/transport.h"

struct ev_loop;
struct vx_relay;
struct vx_circuit;
struct vx_services;

#define VX_CIRCUIT_DEFAULT_HOPS 3
#define VX_CIRCUIT_MAX_HOPS     8
#define VX_CIRCUIT_MAX_GUARDS   4
/* A build step's timeout: VX_CIRCUIT_STEP_RTTS times the round trips the
 * step needs (the registry's RTT of each hop up to it, and how long the
 * earlier hops took), at least VX_CIRCUIT_STEP_MIN_MS, at most
 * setup_timeout_ms. */
#define VX_CIRCUIT_STEP_MIN_MS 2000
#define VX_CIRCUIT_STEP_RTTS   4
#define VX_CIRCUIT_DOWN_MS     30000

struct vx_relay_conf {
    int enabled;           /* relay for others; 0: EXTEND is refused (DISABLED) */
    uint32_t max_circuits; /* circuits served here (relay or exit) */
    uint32_t max_per_prev; /* ...arriving from one previous node */
    uint64_t rate_total;   /* relayed bytes/s over all circuits; 0 = unlimited */
    uint64_t burst_total;  /* bucket depth, bytes */
    uint64_t rate_circuit; /* relayed bytes/s per circuit; 0 = unlimited */
    uint64_t burst_circuit;
    /* client: the most one build step (a hop, BEGIN) may take without an
     * answer (the step's own timeout adapts below it: VX_CIRCUIT_STEP_MIN_MS);
     * relay: how long a hop waits for its next hop */
    uint32_t setup_timeout_ms;
    uint32_t attempts; /* client: build attempts with fresh relays */
    uint32_t down_ms;  /* client: a relay that failed a build is passed over this long */
    int diversity;     /* client: /16 and /48 rules in relay selection */
};
void vx_relay_conf_defaults(struct vx_relay_conf *c);

/* Never returns NULL.  t and id must outlive the relay. */
struct vx_relay *vx_relay_new(struct ev_loop *loop, struct vx_transport *t,
                              const struct vx_identity *id, const struct vx_relay_conf *conf);
/* Tears every circuit down (DESTROY both ways) and frees.  Accepts NULL. */
void vx_relay_free(struct vx_relay *r);
/* Apply new limits (reload); circuits in place keep running. */
void vx_relay_set_conf(struct vx_relay *r, const struct vx_relay_conf *conf);
/* Where BEGIN cells are connected (NULL: every BEGIN fails NOTFOUND). */
void vx_relay_set_services(struct vx_relay *r, const struct vx_services *svcs);

/* Test hook (tests/unit/test_circuit.c plays a tampering relay with it):
 * called with every RELAY cell body a middle relay passes on, forward after
 * its own layer came off, backward before it seals its own; may alter it.
 * NULL removes it.  Not for production use. */
typedef void (*vx_relay_tap_fn)(uint8_t *body, size_t len, int forward, void *arg);
void vx_relay_set_tap(struct vx_relay *r, vx_relay_tap_fn fn, void *arg);
/* Candidate relays for vx_circuit_connect() without an explicit path (copied;
 * the daemon refreshes it from the registry). */
void vx_relay_set_pool(struct vx_relay *r, const struct vx_relay_cand *pool, size_t n);
/* Client side: a pool relay that failed a build (it timed out, or could not
 * be reached) is marked down for conf.down_ms; relay selection passes over
 * it while other candidates remain, and a hop it completes clears the mark.
 * Milliseconds the mark has left, 0 if none. */
uint64_t vx_relay_down_left(const struct vx_relay *r, const uint8_t id[VX_NODE_ID_LEN]);
/* Accept callback for VX_TARGET_RELAY streams; arg is the struct vx_relay. */
void vx_relay_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg);

struct vx_relay_stats {
    uint64_t circuits;         /* served here now (relay or exit) */
    uint64_t circuits_total;   /* CREATEs answered since start */
    uint64_t refused_limit;    /* circuit limits (total, per previous hop) */
    uint64_t refused_disabled; /* EXTEND while relaying is off */
    uint64_t extends;          /* EXTENDs completed */
    uint64_t exits;            /* BEGINs connected to a service */
    uint64_t bytes_relayed;    /* cell bytes forwarded as a middle relay */
    uint64_t crypto_failures;  /* cells that failed a layer */
    uint64_t client_circuits;  /* built by this node as a client, now */
    uint64_t client_built;     /* ...since start */
    uint64_t client_retries;   /* build attempts beyond the first */
    uint64_t client_down;      /* relays marked down after failing a build */
    /* hidden services (this node as introduction or rendezvous point) */
    uint64_t intro_circuits;    /* services' introduction circuits here now */
    uint64_t intro_established; /* ESTABLISH_INTROs accepted since start */
    uint64_t introduces;        /* INTRODUCE1 passed on to a service */
    uint64_t introduce_unknown; /* INTRODUCE1 for an auth key not here */
    uint64_t rend_waiting;      /* cookies waiting for their service now */
    uint64_t rend_circuits;     /* circuits joined at this rendezvous point now */
    uint64_t rend_joined;       /* rendezvous completed since start */
    uint64_t rend_unmatched;    /* RENDEZVOUS1 with an unknown cookie */
};
void vx_relay_get_stats(const struct vx_relay *r, struct vx_relay_stats *st);

/* ---- client ---- */

struct vx_circuit_node {
    uint8_t pk[VX_PK_LEN]; /* Ed25519 key from the node's record */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct vx_circuit_req {
    struct vx_circuit_node dest; /* the service's node: the last hop */
    /* service name on dest; NULL: a bare circuit that opens once dest is
     * built, for the hidden-service cells (vx_circuit_send_cell) */
    const char *service;
    uint16_t port; /* virtual port */
    int auth;      /* prove our node ID to the destination */
    unsigned hops; /* total hops incl. dest (1..8); 0: default 3 */
    /* Explicit relays (hops - 1 of them, in order): one attempt, no
     * failover.  NULL: chosen from the pool, with failover. */
    const struct vx_circuit_node *relays;
    /* Pool relays allowed as the first hop (node IDs, up to
     * VX_CIRCUIT_MAX_GUARDS); 0: any.  If none of them is in the pool and
     * usable, any relay comes first. */
    const uint8_t (*guards)[VX_NODE_ID_LEN];
    size_t nguards;
    /* The whole build, every attempt (ms; 0: no bound but the attempts').
     * A step's timeout leaves each remaining attempt its share of what is
     * left, so the retries fit in the caller's own timeout. */
    uint32_t timeout_ms;
};

struct vx_circuit_cbs {
    /* err 0: the destination connected the service; splice now.  Else the
     * build failed after every attempt (VX_ERR_NOTFOUND/DENIED/REFUSED from
     * the destination are final; relay failures are retried with new relays);
     * the circuit is released after return. */
    void (*on_open)(struct vx_circuit *c, int err, void *arg);
    /* The circuit ended (0: both directions finished); released after. */
    void (*on_close)(struct vx_circuit *c, int err, void *arg);
};

/* Bare circuits: a relay payload from the last hop (or, after
 * vx_circuit_set_e2e, from the far end) other than DATA and END; data is
 * valid during the call.  Without one such a payload ends the circuit. */
typedef void (*vx_circuit_cell_fn)(struct vx_circuit *c, uint8_t rcmd, const uint8_t *data,
                                   size_t len, void *arg);
void vx_circuit_set_cell_cb(struct vx_circuit *c, vx_circuit_cell_fn fn);

/* Start building.  NULL and *err on immediate failure (VX_ERR_INVAL,
 * VX_ERR_NOTFOUND: not enough relays in the pool). */
struct vx_circuit *vx_circuit_connect(struct vx_relay *r, const struct vx_circuit_req *req,
                                      const struct vx_circuit_cbs *cbs, void *arg, int *err);
/* Carry a connected local socket over the open circuit (owned from now on,
 * even on error).  EOF sends END; the far END shuts our write side. */
int vx_circuit_splice(struct vx_circuit *c, int fd);
/* Bare circuits, once open: send a relay payload (not DATA/END) to the last
 * hop, or after vx_circuit_set_e2e() end to end.  0, VX_ERR_INVAL,
 * VX_ERR_TOOBIG or the link's error. */
int vx_circuit_send_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *data, size_t len);
/* After a rendezvous: add the end-to-end layer (ChaCha20-Poly1305 with
 * sequence-number nonces; fwd seals what we send, bwd opens what comes).
 * From then on every payload, DATA and END included, is end to end.  The
 * circuit may then be spliced; DATA and END that arrive before the splice
 * are kept (backpressure beyond 128 KiB).  closer: this end (the client)
 * closes the circuit once both directions are done; the other end waits
 * for that DESTROY (closing would reset its stream with data in flight) and
 * reports it as a clean end.  0 or VX_ERR_INVAL. */
int vx_circuit_set_e2e(struct vx_circuit *c, const uint8_t fwd[32], const uint8_t bwd[32],
                       int closer);
/* The last hop's handshake binding (what ESTABLISH_INTRO signs), or NULL
 * before the circuit is open. */
const uint8_t *vx_circuit_binding(const struct vx_circuit *c);
/* The relay's candidate pool (set by vx_relay_set_pool; ids filled), its
 * identity and loop, for the hidden-service layer. */
const struct vx_relay_cand *vx_relay_pool(const struct vx_relay *r, size_t *n);
const struct vx_identity *vx_relay_identity(const struct vx_relay *r);
struct ev_loop *vx_relay_loop(const struct vx_relay *r);
/* Tear down now (DESTROY), no callback follows. */
void vx_circuit_close(struct vx_circuit *c);
/* Hops of the circuit (or of the attempt in progress) and how many of them
 * were already built; the node IDs in order (dest last). */
unsigned vx_circuit_hops(const struct vx_circuit *c);
const uint8_t *vx_circuit_hop_id(const struct vx_circuit *c, unsigned i);
unsigned vx_circuit_attempts(const struct vx_circuit *c);

#endif
