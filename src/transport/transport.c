/* transport.c — the carrier-independent half of transport.h: defaults and
 * dispatch through the ops tables of transport_impl.h. */
#include "transport/transport_impl.h"

#include <string.h>

#include "lib/err.h"

#define TB(t)  ((struct vx_transport_base *)(t))
#define CTB(t) ((const struct vx_transport_base *)(t))
#define SB(s)  ((struct vx_stream_base *)(s))
#define CSB(s) ((const struct vx_stream_base *)(s))

void vx_transport_conf_defaults(struct vx_transport_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->handshake_timeout_ms = 5000;
    c->keepalive_ms = 15000;
    c->dead_peer_ms = 45000;
    c->idle_session_ms = 120000;
    c->stream_window = 1024 * 1024;
    c->session_window = 16 * 1024 * 1024;
    c->max_streams = 4096;
    c->max_sessions = 1024;
    c->max_isolated = 16;
    c->rekey_bytes = 1ull << 36; /* 64 GiB */
    c->rekey_seconds = 3600;
}

void vx_transport_base_init(struct vx_transport_base *t, const struct vx_transport_ops *ops,
                            enum vx_transport_kind kind, struct ev_loop *loop)
{
    t->ops = ops;
    t->kind = kind;
    t->loop = loop;
    t->accept_fn = NULL;
    t->accept_arg = NULL;
    t->hs_fail_fn = NULL;
    t->hs_fail_arg = NULL;
}

void vx_transport_set_handshake_fail(struct vx_transport *t, vx_handshake_fail_fn fn, void *arg)
{
    TB(t)->hs_fail_fn = fn;
    TB(t)->hs_fail_arg = fn ? arg : NULL;
}

void vx_transport_report_handshake_failure(struct vx_transport *t, const struct sockaddr *sa,
                                           socklen_t salen, int err)
{
    if (TB(t)->hs_fail_fn)
        TB(t)->hs_fail_fn(sa, salen, err, TB(t)->hs_fail_arg);
}

void vx_stream_base_init(struct vx_stream_base *s, const struct vx_stream_ops *ops,
                         struct vx_transport *t)
{
    s->ops = ops;
    s->t = t;
}

int vx_transport_deliver_accept(struct vx_transport *t, struct vx_stream *s,
                                const struct vx_stream_target *tgt)
{
    if (!TB(t)->accept_fn)
        return VX_ERR_REFUSED;
    TB(t)->accept_fn(s, tgt, TB(t)->accept_arg);
    return 0;
}

void vx_transport_free(struct vx_transport *t)
{
    if (!t)
        return;
    TB(t)->ops->free(t);
}

enum vx_transport_kind vx_transport_kind(const struct vx_transport *t)
{
    return CTB(t)->kind;
}

int vx_transport_listen(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen)
{
    return TB(t)->ops->listen(t, sa, salen);
}

void vx_transport_set_accept(struct vx_transport *t, vx_accept_fn fn, void *arg)
{
    TB(t)->accept_fn = fn;
    TB(t)->accept_arg = arg;
}

struct vx_stream *vx_transport_open(struct vx_transport *t, const uint8_t *peer_id,
                                    const struct sockaddr *addr, socklen_t addrlen,
                                    const struct vx_stream_target *tgt,
                                    const struct vx_stream_cbs *cbs, void *arg, int *err)
{
    return TB(t)->ops->open(t, peer_id, addr, addrlen, tgt, cbs, arg, err);
}

void vx_stream_accept(struct vx_stream *s, int status, const struct vx_stream_cbs *cbs, void *arg)
{
    SB(s)->ops->accept(s, status, cbs, arg);
}

int vx_stream_splice(struct vx_stream *s, int fd)
{
    return SB(s)->ops->splice(s, fd, NULL, 0);
}

int vx_stream_splice_data(struct vx_stream *s, int fd, const uint8_t *data, size_t len)
{
    return SB(s)->ops->splice(s, fd, data, len);
}

int vx_stream_attach(struct vx_stream *s, const struct vx_stream_io *io, void *arg)
{
    if (!s || !SB(s)->ops->attach)
        return VX_ERR_INVAL;
    return SB(s)->ops->attach(s, io, arg);
}

ssize_t vx_stream_write(struct vx_stream *s, const uint8_t *data, size_t len)
{
    if (!s || !SB(s)->ops->write)
        return VX_ERR_INVAL;
    return SB(s)->ops->write(s, data, len);
}

int vx_stream_shutdown(struct vx_stream *s)
{
    if (!s || !SB(s)->ops->shutdown)
        return VX_ERR_INVAL;
    return SB(s)->ops->shutdown(s);
}

void vx_stream_read_resume(struct vx_stream *s)
{
    if (s && SB(s)->ops->read_resume)
        SB(s)->ops->read_resume(s);
}

void vx_stream_close(struct vx_stream *s, int err)
{
    SB(s)->ops->close(s, err);
}

const uint8_t *vx_stream_peer_id(const struct vx_stream *s)
{
    return CSB(s)->ops->peer_id(s);
}

void vx_transport_get_stats(const struct vx_transport *t, struct vx_transport_stats *st)
{
    memset(st, 0, sizeof(*st));
    CTB(t)->ops->get_stats(t, st);
}

void vx_transport_foreach_session(const struct vx_transport *t, vx_session_visit_fn fn, void *arg)
{
    CTB(t)->ops->foreach_session(t, fn, arg);
}
