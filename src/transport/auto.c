/* auto.c — QUIC with TCP fallback over one vx_transport (see auto.h).
 *
 * Objects:
 *   auto_transport  the two carriers, the per-peer memory, the live wrapper
 *                   streams (so freeing the transport frees them too).
 *   auto_stream     what the user holds: forwards every call to the carrier
 *                   stream `in` and every callback back with itself as the
 *                   stream.  An opener may replace `in` once (QUIC -> TCP)
 *                   before on_open; the user never sees the QUIC attempt.
 *   peer            what we know of a node (or, in direct mode, an address):
 *                   its advertised carriers and until when QUIC is avoided.
 *
 * A wrapper is freed only when no callback of its own is on the stack
 * (`busy`), so a user may close it from any callback.
 */
#include "transport/auto.h"

#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/quic.h"
#include "transport/tcp.h"
#include "transport/transport_impl.h"

#define MAX_PEERS 4096

struct peer {
    struct peer *next;
    uint8_t id[VX_NODE_ID_LEN];
    int has_id;
    struct sockaddr_storage addr; /* direct mode (no ID) */
    socklen_t addrlen;
    unsigned hint;           /* VX_AUTO_HINT_* the peer advertises, 0 unknown */
    uint64_t quic_bad_until; /* ms: reach it over TCP until then */
    uint64_t used;           /* ms, for eviction */
};

enum as_state { AS_OPENING, AS_ACCEPTING, AS_OPEN };

struct auto_transport;

struct auto_stream {
    struct vx_stream_base base;
    struct auto_transport *at;
    struct auto_stream *next, *prev;
    struct vx_stream *in;
    enum vx_transport_kind carrier;
    enum as_state state;
    struct vx_stream_cbs cbs;
    void *arg;
    struct vx_stream_io io;
    void *io_arg;
    int busy, dead;
    /* opener: what a TCP retry needs */
    uint8_t peer_id[VX_NODE_ID_LEN];
    int has_id, may_fallback;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct vx_stream_target tgt;
    ev_timer budget;
};

struct auto_transport {
    struct vx_transport_base base;
    struct vx_transport *tcp, *quic;
    struct auto_stream *streams;
    struct peer *peers;
    size_t npeers;
    uint32_t budget_ms, memory_ms;
    int nlisten;
    struct vx_auto_counters ctr;
};

static const struct vx_transport_ops auto_ops;
static const struct vx_stream_ops auto_stream_ops;
static const struct vx_stream_cbs inner_cbs;
static const struct vx_stream_io inner_io;

#define AT(t) ((struct auto_transport *)(t))
#define AS(s) ((struct auto_stream *)(s))

static int is_auto(const struct vx_transport *t)
{
    return t && ((const struct vx_transport_base *)t)->ops == &auto_ops;
}

static int addr_eq(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr *b,
                   socklen_t blen)
{
    return alen == blen && !memcmp(a, b, blen);
}

/* ------------------------------------------------------------------------ */
/* Peer memory. */

static struct peer *peer_find(struct auto_transport *at, const uint8_t *id,
                              const struct sockaddr *addr, socklen_t addrlen, int create)
{
    struct peer *p, *oldest = NULL;

    for (p = at->peers; p; p = p->next) {
        if (id ? p->has_id && !memcmp(p->id, id, VX_NODE_ID_LEN)
               : !p->has_id && addr && addr_eq(&p->addr, p->addrlen, addr, addrlen))
            break;
        if (!oldest || p->used < oldest->used)
            oldest = p;
    }
    if (p || !create || (!id && (!addr || addrlen > sizeof(p->addr))))
        goto out;
    if (at->npeers >= MAX_PEERS) {
        p = oldest; /* recycle the least recently used entry */
        struct peer *keep = p->next;
        memset(p, 0, sizeof(*p));
        p->next = keep;
    } else {
        p = calloc(1, sizeof(*p));
        if (!p)
            abort();
        p->next = at->peers;
        at->peers = p;
        at->npeers++;
    }
    if (id) {
        memcpy(p->id, id, VX_NODE_ID_LEN);
        p->has_id = 1;
    } else {
        memcpy(&p->addr, addr, addrlen);
        p->addrlen = addrlen;
    }
out:
    if (p)
        p->used = vx_time_mono_ms();
    return p;
}

static void peer_quic_failed(struct auto_stream *as)
{
    struct auto_transport *at = as->at;
    struct peer *p = peer_find(at, as->has_id ? as->peer_id : NULL, (struct sockaddr *)&as->addr,
                               as->addrlen, 1);
    if (p)
        p->quic_bad_until = vx_time_mono_ms() + at->memory_ms;
}

static void peer_quic_works(struct auto_transport *at, const uint8_t *id,
                            const struct sockaddr *addr, socklen_t addrlen)
{
    struct peer *p = peer_find(at, id, addr, addrlen, 0);
    if (p)
        p->quic_bad_until = 0;
}

/* ------------------------------------------------------------------------ */
/* Wrapper streams. */

static struct auto_stream *as_new(struct auto_transport *at, enum as_state state)
{
    struct auto_stream *as = calloc(1, sizeof(*as));

    if (!as)
        abort();
    vx_stream_base_init(&as->base, &auto_stream_ops, (struct vx_transport *)at);
    as->at = at;
    as->state = state;
    ev_init(&as->budget, NULL);
    as->next = at->streams;
    if (at->streams)
        at->streams->prev = as;
    at->streams = as;
    return as;
}

static void as_free(struct auto_stream *as)
{
    struct auto_transport *at = as->at;

    ev_timer_stop(at->base.loop, &as->budget);
    if (as->prev)
        as->prev->next = as->next;
    else
        at->streams = as->next;
    if (as->next)
        as->next->prev = as->prev;
    free(as);
}

/* The user is done with it (or it finished): free once off the stack. */
static void as_kill(struct auto_stream *as)
{
    as->dead = 1;
    as->in = NULL;
    ev_timer_stop(as->at->base.loop, &as->budget);
    if (!as->busy)
        as_free(as);
}

static void as_enter(struct auto_stream *as)
{
    as->busy++;
}

/* 1 if as is gone now. */
static int as_leave(struct auto_stream *as)
{
    if (--as->busy == 0 && as->dead) {
        as_free(as);
        return 1;
    }
    return as->dead;
}

/* A QUIC session to the stream's peer is up (then a slow open is the
 * remote's business, not a UDP problem). */
struct sess_probe {
    const struct auto_stream *as;
    int found;
};

static void probe_cb(const struct vx_session_info *info, void *arg)
{
    struct sess_probe *pr = arg;
    const struct auto_stream *as = pr->as;

    if (as->has_id ? !memcmp(info->peer_id, as->peer_id, VX_NODE_ID_LEN)
                   : addr_eq(&info->addr, info->addrlen, (const struct sockaddr *)&as->addr,
                             as->addrlen))
        pr->found = 1;
}

static int quic_session_up(const struct auto_stream *as)
{
    struct sess_probe pr = {as, 0};

    vx_transport_foreach_session(as->at->quic, probe_cb, &pr);
    return pr.found;
}

/* Open the opener's stream over TCP.  0, or the error of the TCP open. */
static int as_open_tcp(struct auto_stream *as)
{
    struct auto_transport *at = as->at;
    int err = VX_ERR_INTERNAL;

    as->carrier = VX_TRANSPORT_TCP;
    as->may_fallback = 0;
    as->in = vx_transport_open(at->tcp, as->has_id ? as->peer_id : NULL,
                               as->addrlen ? (struct sockaddr *)&as->addr : NULL, as->addrlen,
                               &as->tgt, &inner_cbs, as, &err);
    if (!as->in)
        return err;
    at->ctr.tcp_opens++;
    return 0;
}

/* Give up on QUIC for this stream and go over TCP; report a TCP failure
 * through on_open.  Runs from loop callbacks only. */
static void as_fallback(struct auto_stream *as, int why)
{
    char idstr[VX_NODE_ID_STRLEN + 1] = "a direct-mode peer";
    int err;

    as->at->ctr.fallbacks++;
    peer_quic_failed(as);
    if (as->has_id)
        vx_node_id_to_str(as->peer_id, idstr, sizeof(idstr));
    log_info(LD_QUIC, "QUIC to %s failed (%s); falling back to TCP", idstr, vx_strerror(why));
    err = as_open_tcp(as);
    if (err == 0)
        return;
    as_enter(as);
    as->cbs.on_open((struct vx_stream *)as, err, as->arg);
    as_leave(as);
    as_kill(as);
}

static void budget_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct auto_stream *as = w->data;
    struct vx_stream *in = as->in;

    (void)loop;
    (void)revents;
    if (as->dead || as->state != AS_OPENING || as->carrier != VX_TRANSPORT_QUIC)
        return;
    if (quic_session_up(as))
        return; /* reachable: the open's own timeout applies */
    as->in = NULL;
    vx_stream_close(in, VX_ERR_TIMEOUT); /* no callback follows */
    as_fallback(as, VX_ERR_TIMEOUT);
}

/* Errors of a QUIC attempt that say "this path does not carry QUIC", as
 * opposed to the remote's answer (refused, not found, denied, ...) or a
 * wrong identity, which TCP would only repeat. */
static int quic_path_error(int err)
{
    switch (err) {
    case VX_ERR_UNREACH:
    case VX_ERR_TIMEOUT:
    case VX_ERR_SYS:
    case VX_ERR_VERSION:
    case VX_ERR_PROTO:
    case VX_ERR_CLOSED:
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Callbacks of the carrier streams: forwarded with the wrapper. */

static void in_on_open(struct vx_stream *in, int err, void *arg)
{
    struct auto_stream *as = arg;

    (void)in;
    ev_timer_stop(as->at->base.loop, &as->budget);
    if (err == 0) {
        as->state = AS_OPEN;
        if (as->carrier == VX_TRANSPORT_QUIC)
            peer_quic_works(as->at, as->has_id ? as->peer_id : NULL, (struct sockaddr *)&as->addr,
                            as->addrlen);
        as_enter(as);
        as->cbs.on_open((struct vx_stream *)as, 0, as->arg);
        as_leave(as);
        return;
    }
    /* The carrier releases `in` when we return. */
    if (as->carrier == VX_TRANSPORT_QUIC && as->may_fallback && quic_path_error(err)) {
        as->in = NULL;
        as_fallback(as, err);
        return;
    }
    as_enter(as);
    as->cbs.on_open((struct vx_stream *)as, err, as->arg);
    as_leave(as);
    as_kill(as);
}

static void in_on_close(struct vx_stream *in, int err, void *arg)
{
    struct auto_stream *as = arg;

    (void)in;
    as_enter(as);
    if (as->cbs.on_close)
        as->cbs.on_close((struct vx_stream *)as, err, as->arg);
    as_leave(as);
    as_kill(as);
}

static const struct vx_stream_cbs inner_cbs = {.on_open = in_on_open, .on_close = in_on_close};

static size_t in_on_data(struct vx_stream *in, const uint8_t *data, size_t len, void *arg)
{
    struct auto_stream *as = arg;
    size_t k;

    (void)in;
    as_enter(as);
    k = as->io.on_data((struct vx_stream *)as, data, len, as->io_arg);
    as_leave(as);
    return k;
}

static void in_on_fin(struct vx_stream *in, void *arg)
{
    struct auto_stream *as = arg;

    (void)in;
    if (!as->io.on_fin)
        return;
    as_enter(as);
    as->io.on_fin((struct vx_stream *)as, as->io_arg);
    as_leave(as);
}

static void in_on_writable(struct vx_stream *in, void *arg)
{
    struct auto_stream *as = arg;

    (void)in;
    if (!as->io.on_writable)
        return;
    as_enter(as);
    as->io.on_writable((struct vx_stream *)as, as->io_arg);
    as_leave(as);
}

static const struct vx_stream_io inner_io = {
        .on_data = in_on_data,
        .on_fin = in_on_fin,
        .on_writable = in_on_writable,
};

/* ------------------------------------------------------------------------ */
/* Stream operations. */

static void as_accept(struct vx_stream *s, int status, const struct vx_stream_cbs *cbs, void *arg)
{
    struct auto_stream *as = AS(s);
    struct vx_stream *in = as->in;

    if (as->dead || as->state != AS_ACCEPTING)
        return;
    if (status == 0 && cbs) {
        as->cbs = *cbs;
        as->arg = arg;
        as->state = AS_OPEN;
        vx_stream_accept(in, 0, &inner_cbs, as);
        return;
    }
    as_kill(as);
    vx_stream_accept(in, status < 0 ? status : VX_ERR_REFUSED, NULL, NULL);
}

static int as_splice(struct vx_stream *s, int fd, const uint8_t *data, size_t len)
{
    struct auto_stream *as = AS(s);

    if (as->dead || !as->in || as->state != AS_OPEN) {
        if (fd >= 0)
            close(fd);
        return VX_ERR_INVAL;
    }
    return vx_stream_splice_data(as->in, fd, data, len);
}

static void as_close(struct vx_stream *s, int err)
{
    struct auto_stream *as = AS(s);
    struct vx_stream *in = as->in;

    if (as->dead)
        return;
    as_kill(as);
    if (in)
        vx_stream_close(in, err);
}

static const uint8_t *as_peer_id(const struct vx_stream *s)
{
    const struct auto_stream *as = (const struct auto_stream *)s;

    return as->in ? vx_stream_peer_id(as->in) : as->peer_id;
}

static int as_attach(struct vx_stream *s, const struct vx_stream_io *io, void *arg)
{
    struct auto_stream *as = AS(s);

    if (as->dead || !as->in || as->state != AS_OPEN || !io || !io->on_data)
        return VX_ERR_INVAL;
    as->io = *io;
    as->io_arg = arg;
    return vx_stream_attach(as->in, &inner_io, as);
}

static ssize_t as_write(struct vx_stream *s, const uint8_t *data, size_t len)
{
    struct auto_stream *as = AS(s);

    if (as->dead || !as->in || as->state != AS_OPEN)
        return VX_ERR_INVAL;
    return vx_stream_write(as->in, data, len);
}

static int as_shutdown(struct vx_stream *s)
{
    struct auto_stream *as = AS(s);

    if (as->dead || !as->in || as->state != AS_OPEN)
        return VX_ERR_INVAL;
    return vx_stream_shutdown(as->in);
}

static void as_read_resume(struct vx_stream *s)
{
    struct auto_stream *as = AS(s);

    if (!as->dead && as->in && as->state == AS_OPEN)
        vx_stream_read_resume(as->in);
}

static const struct vx_stream_ops auto_stream_ops = {
        .accept = as_accept,
        .splice = as_splice,
        .close = as_close,
        .peer_id = as_peer_id,
        .attach = as_attach,
        .write = as_write,
        .shutdown = as_shutdown,
        .read_resume = as_read_resume,
};

/* ------------------------------------------------------------------------ */
/* Transport operations. */

static void carrier_accept(struct vx_stream *in, const struct vx_stream_target *tgt, void *arg)
{
    struct vx_transport *carrier = ((struct vx_stream_base *)in)->t;
    struct auto_transport *at = arg;
    struct auto_stream *as = as_new(at, AS_ACCEPTING);

    as->in = in;
    as->carrier = vx_transport_kind(carrier);
    memcpy(as->peer_id, vx_stream_peer_id(in), VX_NODE_ID_LEN);
    as->has_id = 1;
    if (as->carrier == VX_TRANSPORT_QUIC) {
        struct peer *p = peer_find(at, as->peer_id, NULL, 0, 1);
        p->hint |= VX_AUTO_HINT_QUIC;
        p->quic_bad_until = 0;
        at->ctr.quic_accepts++;
    } else {
        at->ctr.tcp_accepts++;
    }
    if (vx_transport_deliver_accept((struct vx_transport *)at, (struct vx_stream *)as, tgt) < 0)
        as_accept((struct vx_stream *)as, VX_ERR_REFUSED, NULL, NULL);
}

static void at_free(struct vx_transport *t)
{
    struct auto_transport *at = AT(t);

    vx_transport_free(at->quic);
    vx_transport_free(at->tcp);
    while (at->streams)
        as_free(at->streams);
    while (at->peers) {
        struct peer *p = at->peers;
        at->peers = p->next;
        free(p);
    }
    free(at);
}

static int at_listen(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen)
{
    struct auto_transport *at = AT(t);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rv;

    if (salen > sizeof(ss) || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return VX_ERR_INVAL;
    memcpy(&ss, sa, salen);
    /* Port 0 (tests): the kernel's TCP port goes to UDP too, which needs
     * the TCP listener to be the first one (the one local_addr reports). */
    if (at->nlisten && (sa->sa_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port) == 0)
        return VX_ERR_INVAL;
    rv = vx_transport_listen(at->tcp, sa, salen);
    if (rv < 0)
        return rv;
    at->nlisten++;
    len = salen;
    if (sa->sa_family == AF_INET6 && ((struct sockaddr_in6 *)&ss)->sin6_port == 0) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        if (vx_transport_tcp_local_addr(at->tcp, &got, &gl) == 0 && got.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = ((struct sockaddr_in6 *)&got)->sin6_port;
    } else if (sa->sa_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port == 0) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        if (vx_transport_tcp_local_addr(at->tcp, &got, &gl) == 0 && got.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = ((struct sockaddr_in *)&got)->sin_port;
    }
    return vx_transport_listen(at->quic, (struct sockaddr *)&ss, len);
}

static struct vx_stream *at_open(struct vx_transport *t, const uint8_t *peer_id,
                                 const struct sockaddr *addr, socklen_t addrlen,
                                 const struct vx_stream_target *tgt,
                                 const struct vx_stream_cbs *cbs, void *arg, int *err)
{
    struct auto_transport *at = AT(t);
    struct auto_stream *as;
    struct peer *p;
    unsigned hint;
    int use_quic, e = 0, dummy;

    if (!err)
        err = &dummy;
    if (!tgt || !cbs || !cbs->on_open || (!peer_id && !addr) ||
        (addr && addrlen > sizeof(struct sockaddr_storage))) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    p = peer_find(at, peer_id, addr, addrlen, 0);
    hint = p ? p->hint : 0;
    use_quic = !(hint && !(hint & VX_AUTO_HINT_QUIC)) &&
               !(p && p->quic_bad_until > vx_time_mono_ms() && hint != VX_AUTO_HINT_QUIC);
    as = as_new(at, AS_OPENING);
    as->cbs = *cbs;
    as->arg = arg;
    as->tgt = *tgt;
    if (peer_id) {
        memcpy(as->peer_id, peer_id, VX_NODE_ID_LEN);
        as->has_id = 1;
    }
    if (addr) {
        memcpy(&as->addr, addr, addrlen);
        as->addrlen = addrlen;
    }
    if (use_quic) {
        as->carrier = VX_TRANSPORT_QUIC;
        as->may_fallback = hint != VX_AUTO_HINT_QUIC && addr;
        as->in = vx_transport_open(at->quic, peer_id, addr, addrlen, tgt, &inner_cbs, as, &e);
        if (as->in) {
            at->ctr.quic_opens++;
            if (as->may_fallback && !quic_session_up(as)) {
                ev_timer_init(&as->budget, budget_cb, at->budget_ms / 1000., 0.);
                as->budget.data = as;
                ev_timer_start(at->base.loop, &as->budget);
            }
            return (struct vx_stream *)as;
        }
        /* An isolated open over max_isolated must not get round the limit
         * by dialling TCP instead.  (Each carrier counts its own sessions:
         * a peer reached over both can hold up to twice the limit.) */
        if (hint == VX_AUTO_HINT_QUIC || e == VX_ERR_INVAL ||
            (e == VX_ERR_LIMIT && tgt->isolation)) {
            *err = e;
            as_free(as);
            return NULL;
        }
        /* No QUIC session and none can be dialled (or no address): TCP. */
    }
    e = as_open_tcp(as);
    if (e < 0) {
        *err = e;
        as_free(as);
        return NULL;
    }
    return (struct vx_stream *)as;
}

static void at_get_stats(const struct vx_transport *t, struct vx_transport_stats *st)
{
    const struct auto_transport *at = (const struct auto_transport *)t;
    struct vx_transport_stats a, b;

    vx_transport_get_stats(at->tcp, &a);
    vx_transport_get_stats(at->quic, &b);
    st->sessions = a.sessions + b.sessions;
    st->streams = a.streams + b.streams;
    st->sessions_total = a.sessions_total + b.sessions_total;
    st->handshakes_failed = a.handshakes_failed + b.handshakes_failed;
    st->streams_total = a.streams_total + b.streams_total;
    st->bytes_in = a.bytes_in + b.bytes_in;
    st->bytes_out = a.bytes_out + b.bytes_out;
    st->stream_mem = a.stream_mem + b.stream_mem;
    st->limit_sessions = a.limit_sessions + b.limit_sessions;
    st->limit_streams = a.limit_streams + b.limit_streams;
    st->limit_isolated = a.limit_isolated + b.limit_isolated;
    st->isolated = a.isolated + b.isolated;
    st->icmp_probes = a.icmp_probes + b.icmp_probes;
    st->peer_unreachable = a.peer_unreachable + b.peer_unreachable;
}

/* A carrier's handshake failure is the auto transport's (daemon hook). */
static void carrier_hsfail(const struct sockaddr *sa, socklen_t salen, int err, void *arg)
{
    vx_transport_report_handshake_failure(arg, sa, salen, err);
}

static void at_foreach_session(const struct vx_transport *t, vx_session_visit_fn fn, void *arg)
{
    const struct auto_transport *at = (const struct auto_transport *)t;

    vx_transport_foreach_session(at->quic, fn, arg);
    vx_transport_foreach_session(at->tcp, fn, arg);
}

static const struct vx_transport_ops auto_ops = {
        .free = at_free,
        .listen = at_listen,
        .open = at_open,
        .get_stats = at_get_stats,
        .foreach_session = at_foreach_session,
};

/* ------------------------------------------------------------------------ */
/* Public. */

struct vx_transport *vx_transport_auto_new(struct ev_loop *loop, const struct vx_identity *id,
                                           const struct vx_transport_conf *conf)
{
    struct auto_transport *at = calloc(1, sizeof(*at));

    if (!at)
        abort();
    vx_transport_base_init(&at->base, &auto_ops, VX_TRANSPORT_AUTO, loop);
    at->tcp = vx_transport_tcp_new(loop, id, conf);
    at->quic = vx_transport_quic_new(loop, id, conf);
    at->budget_ms = VX_AUTO_QUIC_BUDGET_MS;
    at->memory_ms = VX_AUTO_MEMORY_MS;
    vx_transport_set_accept(at->tcp, carrier_accept, at);
    vx_transport_set_accept(at->quic, carrier_accept, at);
    vx_transport_set_handshake_fail(at->tcp, carrier_hsfail, at);
    vx_transport_set_handshake_fail(at->quic, carrier_hsfail, at);
    return (struct vx_transport *)at;
}

struct vx_transport *vx_transport_new_for(enum vx_transport_kind kind, struct ev_loop *loop,
                                          const struct vx_identity *id,
                                          const struct vx_transport_conf *conf)
{
    switch (kind) {
    case VX_TRANSPORT_TCP:
        return vx_transport_tcp_new(loop, id, conf);
    case VX_TRANSPORT_QUIC:
        return vx_transport_quic_new(loop, id, conf);
    case VX_TRANSPORT_AUTO:
        return vx_transport_auto_new(loop, id, conf);
    }
    abort();
}

int vx_transport_auto_hint(struct vx_transport *t, const uint8_t peer_id[VX_NODE_ID_LEN],
                           unsigned transports)
{
    struct peer *p;

    if (!is_auto(t) || !peer_id || (transports & ~(VX_AUTO_HINT_TCP | VX_AUTO_HINT_QUIC)))
        return VX_ERR_INVAL;
    p = peer_find(AT(t), peer_id, NULL, 0, transports != 0);
    if (p)
        p->hint = transports;
    return 0;
}

int vx_transport_auto_set_policy(struct vx_transport *t, uint32_t quic_budget_ms,
                                 uint32_t memory_ms)
{
    if (!is_auto(t))
        return VX_ERR_INVAL;
    if (quic_budget_ms)
        AT(t)->budget_ms = quic_budget_ms;
    if (memory_ms)
        AT(t)->memory_ms = memory_ms;
    return 0;
}

struct vx_transport *vx_transport_auto_carrier(struct vx_transport *t, enum vx_transport_kind kind)
{
    if (!t)
        return NULL;
    if (vx_transport_kind(t) == kind)
        return t;
    if (!is_auto(t))
        return NULL;
    return kind == VX_TRANSPORT_TCP ? AT(t)->tcp : kind == VX_TRANSPORT_QUIC ? AT(t)->quic : NULL;
}

enum vx_transport_kind vx_stream_carrier(const struct vx_stream *s)
{
    const struct vx_stream_base *b = (const struct vx_stream_base *)s;

    if (b->ops == &auto_stream_ops)
        return ((const struct auto_stream *)s)->carrier;
    return vx_transport_kind(b->t);
}

int vx_transport_auto_counters(const struct vx_transport *t, struct vx_auto_counters *c)
{
    if (!is_auto(t))
        return VX_ERR_INVAL;
    *c = ((const struct auto_transport *)t)->ctr;
    return 0;
}

int vx_transport_rebind(struct vx_transport *t)
{
    struct vx_transport *q = vx_transport_auto_carrier(t, VX_TRANSPORT_QUIC);

    return q ? vx_transport_quic_rebind(q) : 0;
}

int vx_transport_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                            socklen_t *len)
{
    switch (vx_transport_kind(t)) {
    case VX_TRANSPORT_TCP:
        return vx_transport_tcp_local_addr(t, ss, len);
    case VX_TRANSPORT_QUIC:
        return vx_transport_quic_local_addr(t, ss, len);
    case VX_TRANSPORT_AUTO:
        return vx_transport_tcp_local_addr(((const struct auto_transport *)t)->tcp, ss, len);
    }
    return VX_ERR_NOTFOUND;
}
