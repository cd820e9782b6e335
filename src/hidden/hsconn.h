/* hsconn.h — hidden services over relay circuits (libev): the owner's
 * introduction points and rendezvous answers, and the client's connection
 * to ADDRESS.vx6.
 *
 * Owner (vx_hs_serve): picks VX_HSDESC_MAX_INTROS introduction nodes from
 * the relay pool, makes a fresh auth key (Ed25519) and encryption key
 * (X25519) for each, and builds a bare circuit to each through one of its 2
 * guards; ESTABLISH_INTRO is signed with the auth key over the intro hop's
 * handshake binding.  Once every first attempt has finished, the
 * established ones are published through hidden/hsnet (the first
 * VX_HSDESC_ACTIVE active, the rest standby).  When an introduction circuit
 * dies, the next one moves up (a standby becomes active), a replacement is
 * built, and the descriptor is published again at each change.
 *
 * INTRODUCE2 is opened with the intro point's keys and the current period's
 * subcredential (near a period boundary also the other one), checked against
 * a long-lived replay cache (replays are dropped and counted), and answered:
 * a circuit of `profile` relays (through a guard) to the rendezvous point
 * named in it — whose key must be in the relay pool — RENDEZVOUS1, then the
 * end-to-end layer.  The client's first end-to-end cell is BEGIN(port); the
 * owner connects the port's local target (the service definition's routes)
 * and answers CONNECTED or BEGIN_FAILED.
 *
 * Client (vx_hs_connect): resolves the descriptor (hidden/hsnet) while it
 * builds a circuit of `profile` relays to a rendezvous point (one of 3
 * candidates, tried in turn) and sends ESTABLISH_REND(cookie).  Then it
 * builds a 3-hop circuit (guard, middle, intro point) to an active intro
 * point (in random order, the standby ones after them) and sends INTRODUCE1
 * once the rendezvous point is ready; a failed or unanswered intro point is
 * replaced by the next.  After INTRODUCE_ACK it waits for RENDEZVOUS2,
 * checks it (vx_rend_finish), adds the end-to-end layer and sends BEGIN.
 *
 * Neither the intro point nor the rendezvous point learns the client (each
 * sees only the previous relay of a circuit); the rendezvous point learns
 * neither end either; relays see only ciphertext.
 *
 * Errors (each within VX_HS_CONNECT_TIMEOUT_MS at most): VX_ERR_BADADDR
 * (from the call), VX_ERR_NOTFOUND / VX_ERR_CORRUPT / VX_ERR_STALE /
 * VX_ERR_AUTH_MISSING / VX_ERR_AUTH (descriptor), VX_ERR_INTRO_FAILED (every
 * intro point failed), VX_ERR_INTRO_TIMEOUT (the last one did not answer in
 * time), VX_ERR_REND_FAILED (no rendezvous point, or no RENDEZVOUS2 in
 * time, or a bad one), VX_ERR_REFUSED / VX_ERR_NOTFOUND (the owner could not
 * connect that port), VX_ERR_UNREACH (not enough relays).
 */
#ifndef VX6_HIDDEN_HSCONN_H
#define VX6_HIDDEN_HSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

struct vx_relay;
struct vx_dht;
struct vx_service_def;

#define VX_HS_PROFILE_FAST       3 /* relays on each side of the rendezvous point */
#define VX_HS_PROFILE_BALANCED   5
#define VX_HS_INTRO_HOPS         3 /* guard, middle, intro point */
#define VX_HS_GUARDS             2
#define VX_HS_REND_CANDIDATES    3
#define VX_HS_CONNECT_TIMEOUT_MS 15000
#define VX_HS_INTRO_ACK_MS       3000 /* one intro point must answer within */
#define VX_HS_REND_WAIT_MS       5000 /* RENDEZVOUS2 after the ACK */

/* ---- owner ---- */

struct vx_hs_service;

struct vx_hs_serve_conf {
    unsigned profile;    /* relays to a rendezvous point; 0: fast */
    unsigned intro_hops; /* hops of introduction circuits; 0: VX_HS_INTRO_HOPS */
    uint32_t lifetime;   /* descriptor lifetime, 0: default */
    const uint8_t (*clients)[VX_X25519_LEN]; /* authorized clients (n 0: anyone); copied */
    size_t n_clients;
};

struct vx_hs_service_status {
    int published;           /* a descriptor with intro points is out */
    uint64_t started_unix;   /* vx_hs_serve() */
    uint64_t reachable_unix; /* first publication (0: not yet) */
    uint64_t reachable_ms;   /* ...milliseconds after the start */
    uint64_t revision;       /* last descriptor revision */
    uint64_t publishes;
    unsigned active, standby, building; /* intro points now */
    uint64_t intro_changes;             /* intro points lost and replaced */
    uint64_t introduces;                /* INTRODUCE2 accepted */
    uint64_t replays;                   /* ...dropped as replays */
    uint64_t bad_introduces;            /* ...that did not open (or wrong epoch) */
    uint64_t rend_ok;                   /* rendezvous answered and joined */
    uint64_t rend_failed;               /* rendezvous point unreachable (or no endpoint) */
    uint64_t streams;                   /* BEGINs connected to the local service */
    uint64_t closed_clean;              /* ...that ended with both directions finished */
};

/* Serve hidden service `svc` (its identity key) with the routes of def.
 * relay (with its pool set), dht, svc and def must outlive the service.
 * conf may be NULL.  Never returns NULL. */
struct vx_hs_service *vx_hs_serve(struct vx_relay *relay, struct vx_dht *dht,
                                  const struct vx_identity *svc, const struct vx_service_def *def,
                                  const struct vx_hs_serve_conf *conf);
/* Unpublish, close every circuit and free.  Accepts NULL.  Before
 * vx_relay_free() and vx_dht_free(). */
void vx_hs_service_free(struct vx_hs_service *s);
void vx_hs_service_status(const struct vx_hs_service *s, struct vx_hs_service_status *st);
/* ADDRESS of the service (without ".vx6"). */
const char *vx_hs_service_address(const struct vx_hs_service *s);
/* The node IDs of the intro points in the descriptor's order (n of them). */
size_t vx_hs_service_intros(const struct vx_hs_service *s, uint8_t (*ids)[VX_NODE_ID_LEN],
                            size_t max);

/* ---- client ---- */

struct vx_hs_connector;
struct vx_hs_conn;

struct vx_hs_connector_conf {
    unsigned profile;            /* relays to the rendezvous point; 0: fast */
    uint32_t timeout_ms;         /* whole connection setup; 0: default */
    uint32_t resolve_timeout_ms; /* descriptor; 0: hsnet's default */
};

struct vx_hs_conn_cbs {
    /* err 0: the owner connected the port; vx_hs_conn_splice() now.  Else
     * the connection failed (see above) and is released after return. */
    void (*on_open)(struct vx_hs_conn *hc, int err, void *arg);
    /* The stream ended (0: both directions finished); released after. */
    void (*on_close)(struct vx_hs_conn *hc, int err, void *arg);
};

/* relay and dht must outlive the connector.  conf may be NULL.  Never
 * returns NULL. */
struct vx_hs_connector *vx_hs_connector_new(struct vx_relay *relay, struct vx_dht *dht,
                                            const struct vx_hs_connector_conf *conf);
/* Closes pending connections (no callbacks).  Before vx_relay_free(); after
 * vx_dht_free() unless no connection is still resolving (as
 * vx_hs_client_free() in hsnet.h).  Accepts NULL. */
void vx_hs_connector_free(struct vx_hs_connector *k);
/* Client authorization: the X25519 secret key to use for ADDRESS (NULL:
 * forget it).  0, VX_ERR_BADADDR, VX_ERR_LIMIT. */
int vx_hs_connector_set_auth(struct vx_hs_connector *k, const char *address, const uint8_t *sk);
/* Forget cached descriptors (tests, and after a failure). */
void vx_hs_connector_flush(struct vx_hs_connector *k);

/* Connect to port of ADDRESS(.vx6).  Returns the pending connection, or NULL
 * with *err (VX_ERR_BADADDR, VX_ERR_INVAL, VX_ERR_LIMIT); the outcome
 * arrives through cbs->on_open, never from inside this call. */
struct vx_hs_conn *vx_hs_connect(struct vx_hs_connector *k, const char *address, uint16_t port,
                                 const struct vx_hs_conn_cbs *cbs, void *arg, int *err);
/* Carry a connected local socket (owned from now on, even on error). */
int vx_hs_conn_splice(struct vx_hs_conn *hc, int fd);
/* Tear down now; no callback follows.  Accepts NULL. */
void vx_hs_conn_close(struct vx_hs_conn *hc);

struct vx_hs_conn_info {
    uint64_t resolve_ms, rend_ms, intro_ms, total_ms; /* from the call */
    unsigned intros_tried;
    unsigned rend_tried;
    uint8_t rend_id[VX_NODE_ID_LEN];
    uint8_t intro_id[VX_NODE_ID_LEN];
};
void vx_hs_conn_info(const struct vx_hs_conn *hc, struct vx_hs_conn_info *info);

#endif
