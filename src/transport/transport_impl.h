/* transport_impl.h — what a carrier (TCP + Noise, QUIC) provides to transport.c.
 *
 * The public functions of transport.h dispatch through two small tables.  A
 * carrier's own transport type begins with a struct vx_transport_base and its
 * stream type with a struct vx_stream_base (FIRST member), filled in with
 * vx_transport_base_init() / vx_stream_base_init() when it creates them.  The
 * carrier may name its private types `struct vx_transport` / `struct
 * vx_stream` (tcp.c does) or anything else (quic.c): transport.c only casts
 * the opaque pointers to the base types.
 *
 * transport.c implements, once for every carrier: vx_transport_conf_defaults,
 * vx_transport_kind, vx_transport_set_accept (the callback is kept in the
 * base: carriers use vx_transport_deliver_accept() or base.accept_fn), and
 * the NULL check of vx_transport_free.  Every other public call is forwarded
 * unchanged to the carrier, which keeps the semantics transport.h documents.
 */
#ifndef VX6_TRANSPORT_TRANSPORT_IMPL_H
#define VX6_TRANSPORT_TRANSPORT_IMPL_H

#include <ev.h>

#include "transport/transport.h"

struct vx_transport_ops {
    /* Release everything, including t itself (never NULL here). */
    void (*free)(struct vx_transport *t);
    int (*listen)(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen);
    struct vx_stream *(*open)(struct vx_transport *t, const uint8_t *peer_id,
                              const struct sockaddr *addr, socklen_t addrlen,
                              const struct vx_stream_target *tgt, const struct vx_stream_cbs *cbs,
                              void *arg, int *err);
    void (*get_stats)(const struct vx_transport *t, struct vx_transport_stats *st);
    void (*foreach_session)(const struct vx_transport *t, vx_session_visit_fn fn, void *arg);
};

struct vx_stream_ops {
    void (*accept)(struct vx_stream *s, int status, const struct vx_stream_cbs *cbs, void *arg);
    /* data/len: bytes already read from fd, sent first (may be NULL/0) */
    int (*splice)(struct vx_stream *s, int fd, const uint8_t *data, size_t len);
    void (*close)(struct vx_stream *s, int err);
    const uint8_t *(*peer_id)(const struct vx_stream *s);
    /* Byte-level access (vx_stream_attach & co.).  Optional: a carrier
     * without them answers VX_ERR_INVAL through transport.c. */
    int (*attach)(struct vx_stream *s, const struct vx_stream_io *io, void *arg);
    ssize_t (*write)(struct vx_stream *s, const uint8_t *data, size_t len);
    int (*shutdown)(struct vx_stream *s);
    void (*read_resume)(struct vx_stream *s);
};

struct vx_transport_base {
    const struct vx_transport_ops *ops;
    enum vx_transport_kind kind;
    struct ev_loop *loop;
    vx_accept_fn accept_fn;
    void *accept_arg;
    vx_handshake_fail_fn hs_fail_fn; /* vx_transport_set_handshake_fail() */
    void *hs_fail_arg;
};

struct vx_stream_base {
    const struct vx_stream_ops *ops;
    struct vx_transport *t;
};

/* Fill the base part of a carrier's transport. */
void vx_transport_base_init(struct vx_transport_base *t, const struct vx_transport_ops *ops,
                            enum vx_transport_kind kind, struct ev_loop *loop);
/* Fill the base part of a carrier's stream. */
void vx_stream_base_init(struct vx_stream_base *s, const struct vx_stream_ops *ops,
                         struct vx_transport *t);

/* Hand an incoming stream to the accept callback.  Returns 0, or
 * VX_ERR_REFUSED when no callback is set (the carrier then refuses the
 * stream itself). */
int vx_transport_deliver_accept(struct vx_transport *t, struct vx_stream *s,
                                const struct vx_stream_target *tgt);

/* A session a peer dialled failed its handshake (bad message, wrong key,
 * timeout): tell the hook set with vx_transport_set_handshake_fail(). */
void vx_transport_report_handshake_failure(struct vx_transport *t, const struct sockaddr *sa,
                                           socklen_t salen, int err);

#endif
