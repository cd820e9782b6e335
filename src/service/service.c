/* service.c — forward accepted streams into published localhost services. */
#include "service/service.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

/* A connect to a target in progress; the stream waits for our answer. */
struct pending {
    struct pending *prev, *next;
    struct vx_services *owner;
    struct vx_stream *stream;
    int fd;
    ev_io io;
    ev_timer timer;
    char service[VX_TARGET_NAME_MAX + 1];
};

struct svc_entry {
    struct vx_service_def def; /* ports/allow point into the arrays below */
    struct vx_portmap *ports;
    uint8_t (*allow)[VX_NODE_ID_LEN];
};

struct vx_services {
    struct ev_loop *loop;
    struct svc_entry *entries;
    size_t n;
    struct pending *pending;
    struct vx_service_stats stats;
};

struct vx_services *vx_services_new(struct ev_loop *loop)
{
    struct vx_services *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    return s;
}

static void entries_free(struct svc_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].ports);
        free(e[i].allow);
    }
    free(e);
}

static void pending_finish(struct pending *p, int status);

void vx_services_free(struct vx_services *svcs)
{
    if (!svcs)
        return;
    while (svcs->pending)
        pending_finish(svcs->pending, VX_ERR_CLOSED);
    entries_free(svcs->entries, svcs->n);
    free(svcs);
}

int vx_services_set(struct vx_services *svcs, const struct vx_service_def *defs, size_t n)
{
    struct svc_entry *e = xcalloc(n, sizeof(*e));

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(defs[i].name, defs[j].name) == 0)
                goto invalid;
        if (!defs[i].has_target && defs[i].nports == 0)
            goto invalid;
        e[i].def = defs[i];
        if (defs[i].nports) {
            e[i].ports = xcalloc(defs[i].nports, sizeof(*e[i].ports));
            memcpy(e[i].ports, defs[i].ports, defs[i].nports * sizeof(*e[i].ports));
        }
        if (defs[i].nallow) {
            e[i].allow = xcalloc(defs[i].nallow, sizeof(*e[i].allow));
            memcpy(e[i].allow, defs[i].allow, defs[i].nallow * sizeof(*e[i].allow));
        }
        e[i].def.ports = e[i].ports;
        e[i].def.allow = (const uint8_t(*)[VX_NODE_ID_LEN])e[i].allow;
    }
    entries_free(svcs->entries, svcs->n);
    svcs->entries = e;
    svcs->n = n;
    return 0;
invalid:
    entries_free(e, n);
    return VX_ERR_INVAL;
}

size_t vx_services_count(const struct vx_services *svcs)
{
    return svcs->n;
}

const struct vx_service_def *vx_services_get(const struct vx_services *svcs, size_t i)
{
    return i < svcs->n ? &svcs->entries[i].def : NULL;
}

const struct vx_service_def *vx_services_find(const struct vx_services *svcs, const char *name)
{
    for (size_t i = 0; i < svcs->n; i++)
        if (strcmp(svcs->entries[i].def.name, name) == 0)
            return &svcs->entries[i].def;
    return NULL;
}

int vx_service_route(const struct vx_service_def *def, uint16_t vport,
                     const struct sockaddr **target, socklen_t *target_len)
{
    for (size_t i = 0; i < def->nports; i++) {
        if (def->ports[i].vport == vport) {
            *target = (const struct sockaddr *)&def->ports[i].target;
            *target_len = def->ports[i].target_len;
            return 0;
        }
    }
    if (def->has_target) {
        *target = (const struct sockaddr *)&def->target;
        *target_len = def->target_len;
        return 0;
    }
    return VX_ERR_NOTFOUND;
}

int vx_service_allowed(const struct vx_service_def *def, const uint8_t peer[VX_NODE_ID_LEN])
{
    if (def->nallow == 0)
        return 1;
    for (size_t i = 0; i < def->nallow; i++)
        if (memcmp(def->allow[i], peer, VX_NODE_ID_LEN) == 0)
            return 1;
    return 0;
}

static void on_stream_close(struct vx_stream *s, int err, void *arg)
{
    struct vx_services *svcs = arg;
    (void)s;
    (void)err;
    if (svcs->stats.active)
        svcs->stats.active--;
}

static const struct vx_stream_cbs forwarded_cbs = {
        .on_open = NULL,
        .on_close = on_stream_close,
};

/* Answer the stream and release the pending connect.  status 0: the fd is
 * connected and handed to the stream. */
static void pending_finish(struct pending *p, int status)
{
    struct vx_services *svcs = p->owner;

    ev_io_stop(svcs->loop, &p->io);
    ev_timer_stop(svcs->loop, &p->timer);
    if (p->prev)
        p->prev->next = p->next;
    else
        svcs->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;

    if (status == 0) {
        svcs->stats.accepted++;
        svcs->stats.active++;
        vx_stream_accept(p->stream, 0, &forwarded_cbs, svcs);
        vx_stream_splice(p->stream, p->fd); /* owns fd now, even on error */
    } else {
        svcs->stats.refused++;
        if (p->fd >= 0)
            close(p->fd);
        vx_stream_accept(p->stream, status, NULL, NULL);
    }
    free(p);
}

static int connect_errno_to_vx(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return VX_ERR_REFUSED;
    case ETIMEDOUT:
        return VX_ERR_TIMEOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
        return VX_ERR_UNREACH;
    default:
        return VX_ERR_REFUSED;
    }
}

static void on_connect_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pending *p = w->data;
    int err = 0;
    socklen_t len = sizeof(err);
    (void)loop;
    (void)revents;

    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        log_info(LD_SERVICE, "service %s: target refused the connection: %s", p->service,
                 strerror(err));
        pending_finish(p, connect_errno_to_vx(err));
        return;
    }
    pending_finish(p, 0);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct pending *p = w->data;
    (void)loop;
    (void)revents;
    log_info(LD_SERVICE, "service %s: target did not answer within %d ms", p->service,
             VX_SERVICE_CONNECT_TIMEOUT_MS);
    pending_finish(p, VX_ERR_TIMEOUT);
}

void vx_services_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    struct vx_services *svcs = arg;
    const struct vx_service_def *def;
    const struct sockaddr *target;
    socklen_t tlen;
    struct pending *p;
    char peer[VX_NODE_ID_STRLEN + 1];
    int fd;

    vx_node_id_to_str(vx_stream_peer_id(s), peer, sizeof(peer));
    def = (tgt->kind == VX_TARGET_SERVICE) ? vx_services_find(svcs, tgt->name) : NULL;
    /* A hidden service is never reachable by name on the direct path. */
    if (!def || def->hidden) {
        svcs->stats.unknown++;
        log_info(LD_SERVICE, "peer %.12s asked for unknown service '%s'", peer, tgt->name);
        vx_stream_accept(s, VX_ERR_NOTFOUND, NULL, NULL);
        return;
    }
    if (def->route == VX_SERVICE_ROUTE_RELAY) {
        svcs->stats.denied++;
        log_info(LD_SERVICE,
                 "peer %.12s asked for service '%s' directly; it takes relay circuits only "
                 "(route: relay)",
                 peer, def->name);
        vx_stream_accept(s, VX_ERR_ROUTE, NULL, NULL);
        return;
    }
    if (!vx_service_allowed(def, vx_stream_peer_id(s))) {
        svcs->stats.denied++;
        log_notice(LD_SERVICE, "peer %.12s is not on the allow list of service '%s'", peer,
                   def->name);
        vx_stream_accept(s, VX_ERR_DENIED, NULL, NULL);
        return;
    }
    if (vx_service_route(def, tgt->port, &target, &tlen) < 0) {
        svcs->stats.unknown++;
        log_info(LD_SERVICE, "service '%s' does not publish port %u", def->name, tgt->port);
        vx_stream_accept(s, VX_ERR_NOTFOUND, NULL, NULL);
        return;
    }

    fd = socket(target->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn_rl(LD_SERVICE, "service '%s': socket: %s", def->name, strerror(errno));
        svcs->stats.refused++;
        vx_stream_accept(s, VX_ERR_LIMIT, NULL, NULL);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->owner = svcs;
    p->stream = s;
    p->fd = fd;
    snprintf(p->service, sizeof(p->service), "%s", def->name);
    ev_io_init(&p->io, on_connect_ready, fd, EV_WRITE);
    ev_timer_init(&p->timer, on_connect_timeout, VX_SERVICE_CONNECT_TIMEOUT_MS / 1000.0, 0.);
    p->io.data = p->timer.data = p;
    p->next = svcs->pending;
    if (p->next)
        p->next->prev = p;
    svcs->pending = p;

    if (connect(fd, target, tlen) == 0) {
        pending_finish(p, 0);
        return;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        log_info(LD_SERVICE, "service %s: target refused the connection: %s", def->name,
                 strerror(e));
        pending_finish(p, connect_errno_to_vx(e));
        return;
    }
    ev_io_start(svcs->loop, &p->io);
    ev_timer_start(svcs->loop, &p->timer);
}

void vx_services_get_stats(const struct vx_services *svcs, struct vx_service_stats *st)
{
    *st = svcs->stats;
}
