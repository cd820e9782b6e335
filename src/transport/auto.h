/* auto.h — the `auto` carrier of transport.h: one TCP + Noise and one QUIC
 * transport behind a single vx_transport, and constructors by kind.
 *
 * Opening a stream prefers QUIC unless the peer is known not to speak it
 * (vx_transport_auto_hint) or QUIC recently failed to reach it.  A QUIC
 * attempt that has no session after the budget (default 1200 ms), or that
 * fails at once (ICMP unreachable, refused handshake), is abandoned and the
 * same stream is opened over TCP instead; the caller only sees on_open.  A
 * peer whose QUIC attempt failed is reached over TCP for the memory time
 * (default 5 minutes), then QUIC is tried again, so a recovered UDP path is
 * used again.  Streams are accepted from both carriers; a stream accepted
 * over QUIC marks its peer as QUIC-capable and reachable.
 *
 * listen() binds TCP and UDP on the same address and port (a port 0 TCP
 * listener gives its port to the UDP one).  Streams of an auto transport
 * are wrappers: vx_stream_carrier() tells which carrier a stream uses.
 */
#ifndef VX6_TRANSPORT_AUTO_H
#define VX6_TRANSPORT_AUTO_H

#include <stdint.h>

#include "transport/transport.h"

#define VX_AUTO_QUIC_BUDGET_MS 1200
#define VX_AUTO_MEMORY_MS      (5 * 60 * 1000)

/* Bits of vx_transport_auto_hint(): the values NODE records use. */
#define VX_AUTO_HINT_TCP  1u
#define VX_AUTO_HINT_QUIC 2u

/* An auto transport.  Never returns NULL (aborts on OOM). */
struct vx_transport *vx_transport_auto_new(struct ev_loop *loop, const struct vx_identity *id,
                                           const struct vx_transport_conf *conf);

/* The transport of that kind (VX_TRANSPORT_TCP, _QUIC or _AUTO) — what the
 * daemon calls for `transport: tcp|quic|auto`.  Never returns NULL; aborts
 * on an unknown kind. */
struct vx_transport *vx_transport_new_for(enum vx_transport_kind kind, struct ev_loop *loop,
                                          const struct vx_identity *id,
                                          const struct vx_transport_conf *conf);

/* What a peer advertises (a mask of VX_AUTO_HINT_* from its NODE record's
 * endpoint).  TCP only: never try QUIC; QUIC only: never fall back to TCP.
 * 0 forgets the hint.  VX_ERR_INVAL if t is not an auto transport. */
int vx_transport_auto_hint(struct vx_transport *t, const uint8_t peer_id[VX_NODE_ID_LEN],
                           unsigned transports);

/* QUIC budget before falling back to TCP, and how long a failed QUIC
 * attempt sends a peer over TCP.  0 keeps the current value.  VX_ERR_INVAL
 * if t is not an auto transport. */
int vx_transport_auto_set_policy(struct vx_transport *t, uint32_t quic_budget_ms,
                                 uint32_t memory_ms);

/* One carrier of an auto transport (e.g. for a service pinned to
 * `transport: tcp`, or for vx_transport_learn_key on the TCP side).  t
 * itself when it is of that kind already; NULL when t has no such carrier. */
struct vx_transport *vx_transport_auto_carrier(struct vx_transport *t, enum vx_transport_kind kind);

/* The carrier a stream runs on: VX_TRANSPORT_TCP or VX_TRANSPORT_QUIC (for
 * an auto stream still opening, the one it is trying now). */
enum vx_transport_kind vx_stream_carrier(const struct vx_stream *s);

struct vx_auto_counters {
    uint64_t quic_opens;   /* streams opened over QUIC */
    uint64_t tcp_opens;    /* streams opened over TCP (including fallbacks) */
    uint64_t fallbacks;    /* QUIC attempts abandoned for TCP */
    uint64_t quic_accepts; /* streams accepted over QUIC */
    uint64_t tcp_accepts;  /* streams accepted over TCP */
};
/* VX_ERR_INVAL if t is not an auto transport. */
int vx_transport_auto_counters(const struct vx_transport *t, struct vx_auto_counters *c);

/* For every kind: the local address changed — QUIC connections migrate
 * (vx_transport_quic_rebind), TCP sessions cannot and are left alone.
 * Returns the number of connections migrated (0 for TCP). */
int vx_transport_rebind(struct vx_transport *t);

/* For every kind: the address of the first listener.  0, VX_ERR_NOTFOUND or
 * VX_ERR_SYS. */
int vx_transport_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                            socklen_t *len);

#endif
