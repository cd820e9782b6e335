/* gateway.c — transport + services + path + front from a config.  See
 * gateway.h. */
#include "daemon/gateway.h"
#include "transport/auto.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"

struct vx_gateway {
    enum vx_transport_kind kind;
    struct ev_loop *loop;
    struct vx_transport *t;
    struct vx_services *svcs;
    struct vx_path *path;
    struct vx_front *front;
    void (*on_free)(void *arg);
    void *on_free_arg;
};

int vx_gateway_service_defs(const struct vx_config *cfg, struct vx_service_def **defs, size_t *n)
{
    size_t nports = 0, nallow = 0;
    for (size_t i = 0; i < cfg->n_services; i++) {
        nports += cfg->services[i].n_ports;
        nallow += cfg->services[i].n_allow;
    }
    size_t sz = cfg->n_services * sizeof(struct vx_service_def) +
                nports * sizeof(struct vx_portmap) + nallow * VX_NODE_ID_LEN + 1;
    uint8_t *block = calloc(1, sz);
    if (!block)
        return VX_ERR_NOMEM;
    struct vx_service_def *d = (struct vx_service_def *)block;
    struct vx_portmap *pm = (struct vx_portmap *)(d + cfg->n_services);
    uint8_t(*allow)[VX_NODE_ID_LEN] = (uint8_t(*)[VX_NODE_ID_LEN])(pm + nports);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        snprintf(d[i].name, sizeof(d[i].name), "%s", s->name);
        d[i].has_target = s->has_target;
        if (s->has_target) {
            d[i].target = s->target.ss;
            d[i].target_len = s->target.len;
        }
        d[i].ports = pm;
        d[i].nports = s->n_ports;
        for (size_t k = 0; k < s->n_ports; k++) {
            pm[k].vport = s->ports[k].vport;
            pm[k].target = s->ports[k].target.ss;
            pm[k].target_len = s->ports[k].target.len;
        }
        pm += s->n_ports;
        d[i].allow = (const uint8_t(*)[VX_NODE_ID_LEN])allow;
        d[i].nallow = s->n_allow;
        for (size_t k = 0; k < s->n_allow; k++)
            memcpy(allow[k], s->allow[k].bin, VX_NODE_ID_LEN);
        allow += s->n_allow;
        d[i].hidden = s->hidden;
        d[i].route = s->route == VX_CFG_ROUTE_RELAY    ? VX_SERVICE_ROUTE_RELAY
                     : s->route == VX_CFG_ROUTE_DIRECT ? VX_SERVICE_ROUTE_DIRECT
                                                       : VX_SERVICE_ROUTE_ANY;
    }
    *defs = d;
    *n = cfg->n_services;
    return 0;
}

static enum vx_transport_kind transport_kind_of(enum vx_cfg_transport k)
{
    switch (k) {
    case VX_CFG_TRANSPORT_TCP:
        return VX_TRANSPORT_TCP;
    case VX_CFG_TRANSPORT_QUIC:
        return VX_TRANSPORT_QUIC;
    default:
        return VX_TRANSPORT_AUTO;
    }
}

static const char *kind_listens(enum vx_transport_kind k)
{
    return k == VX_TRANSPORT_TCP ? "TCP" : k == VX_TRANSPORT_QUIC ? "QUIC/UDP" : "TCP and QUIC/UDP";
}

static enum vx_route route_of(enum vx_cfg_route r)
{
    switch (r) {
    case VX_CFG_ROUTE_DIRECT:
        return VX_ROUTE_DIRECT;
    case VX_CFG_ROUTE_RELAY:
        return VX_ROUTE_RELAY;
    default:
        return VX_ROUTE_AUTO;
    }
}

static int apply(struct vx_gateway *gw, const struct vx_config *cfg)
{
    struct vx_service_def *defs = NULL;
    size_t n = 0;
    int first = 0, r;

    /* services */
    if ((r = vx_gateway_service_defs(cfg, &defs, &n)) < 0)
        return r;
    r = vx_services_set(gw->svcs, defs, n);
    free(defs);
    if (r < 0) {
        log_err(LD_SERVICE, "services: the new table was refused: %s", vx_strerror(r));
        first = r;
    }

    /* path */
    vx_path_set_clearnet(gw->path, cfg->clearnet == VX_CFG_CLEARNET_ALLOW);
    vx_path_set_node_port(gw->path,
                          cfg->n_listen ? vx_addr_port((const struct sockaddr *)&cfg->listen[0].ss)
                                        : VX_PATH_DEFAULT_NODE_PORT);
    vx_path_set_timeout(gw->path, (uint32_t)(cfg->limits.handshake_timeout_ms ?: 10000));
    {
        struct vx_path_alias *al = calloc(cfg->n_aliases + 1, sizeof(*al));
        if (!al)
            return VX_ERR_NOMEM;
        for (size_t i = 0; i < cfg->n_aliases; i++) {
            al[i].name = cfg->aliases[i].name;
            al[i].target = cfg->aliases[i].target;
        }
        r = vx_path_set_aliases(gw->path, al, cfg->n_aliases);
        free(al);
        if (r < 0 && !first)
            first = r;
    }

    /* front */
    struct vx_front_conf fc = {
            .username = cfg->socks_username,
            .password = cfg->socks_password,
            .handshake_timeout_ms = (uint32_t)cfg->limits.handshake_timeout_ms,
            .max_conns = cfg->limits.max_connections,
            .max_conns_per_client = cfg->limits.max_connections_per_client,
    };
    if ((r = vx_front_configure(gw->front, &fc)) < 0 && !first)
        first = r;
    {
        struct vx_front_forward_def *fd = calloc(cfg->n_forwards + 1, sizeof(*fd));
        if (!fd)
            return VX_ERR_NOMEM;
        for (size_t i = 0; i < cfg->n_forwards; i++) {
            fd[i].listen = cfg->forwards[i].listen.ss;
            fd[i].listen_len = cfg->forwards[i].listen.len;
            fd[i].host = cfg->forwards[i].host;
            fd[i].port = cfg->forwards[i].port;
            fd[i].route = route_of(cfg->forwards[i].route);
        }
        r = vx_front_set_forwards(gw->front, fd, cfg->n_forwards);
        free(fd);
        if (r < 0 && !first)
            first = r;
    }
    return first;
}

int vx_gateway_new(struct ev_loop *loop, const struct vx_identity *id, const struct vx_config *cfg,
                   struct vx_gateway **out, char *err, size_t errlen)
{
    struct vx_transport_conf tc;
    struct vx_gateway *gw = calloc(1, sizeof(*gw));
    char a[VX_ADDR_STRLEN];
    int r;
    if (!gw)
        abort();
    gw->loop = loop;
    vx_transport_conf_defaults(&tc);
    if (cfg->limits.max_streams_per_peer)
        tc.max_streams = cfg->limits.max_streams_per_peer;
    if (cfg->limits.max_sessions_per_peer)
        tc.max_isolated = cfg->limits.max_sessions_per_peer;
    if (cfg->limits.handshake_timeout_ms)
        tc.handshake_timeout_ms = (uint32_t)cfg->limits.handshake_timeout_ms;
    {
        /* test knob (vx6d(8)): notice a silent peer sooner */
        const char *e = getenv("VX6_DEAD_PEER_MS");
        unsigned long ms = e ? strtoul(e, NULL, 10) : 0;
        if (ms >= 1000 && ms <= 600000) {
            tc.dead_peer_ms = (uint32_t)ms;
            if (tc.keepalive_ms > ms / 3)
                tc.keepalive_ms = (uint32_t)(ms / 3);
        }
    }
    gw->kind = transport_kind_of(cfg->transport);
    gw->t = vx_transport_new_for(gw->kind, loop, id, &tc);
    gw->svcs = vx_services_new(loop);
    vx_transport_set_accept(gw->t, vx_services_accept, gw->svcs);
    gw->path = vx_path_new(loop, gw->t);
    gw->front = vx_front_new(loop, gw->path);

    for (size_t i = 0; i < cfg->n_listen; i++) {
        const struct vx_addr *l = &cfg->listen[i];
        vx_addr_format((const struct sockaddr *)&l->ss, l->len, a, sizeof(a));
        if (vx_transport_listen(gw->t, (const struct sockaddr *)&l->ss, l->len) < 0) {
            snprintf(err, errlen, "cannot listen for peers on %s: %s", a, strerror(errno));
            r = VX_ERR_SYS;
            goto fail;
        }
        log_info(LD_NET, "listening for peers on %s (%s)", a, kind_listens(gw->kind));
    }
    if (cfg->socks_enabled) {
        vx_addr_format((const struct sockaddr *)&cfg->socks.ss, cfg->socks.len, a, sizeof(a));
        if (vx_front_listen(gw->front, (const struct sockaddr *)&cfg->socks.ss, cfg->socks.len) <
            0) {
            snprintf(err, errlen, "cannot listen for SOCKS/HTTP clients on %s: %s", a,
                     strerror(errno));
            r = VX_ERR_SYS;
            goto fail;
        }
        log_info(LD_FRONT, "SOCKS5/SOCKS4/HTTP proxy on %s", a);
    }
    if ((r = apply(gw, cfg)) < 0 && r != VX_ERR_SYS) {
        snprintf(err, errlen, "configuration refused: %s", vx_strerror(r));
        goto fail;
    }
    *out = gw;
    return 0;
fail:
    vx_gateway_free(gw);
    *out = NULL;
    return r;
}

int vx_gateway_reload(struct vx_gateway *gw, const struct vx_config *cfg)
{
    return apply(gw, cfg);
}

void vx_gateway_free(struct vx_gateway *gw)
{
    if (!gw)
        return;
    if (gw->on_free)
        gw->on_free(gw->on_free_arg);
    vx_front_free(gw->front);
    vx_path_free(gw->path);
    vx_transport_free(gw->t);
    vx_services_free(gw->svcs);
    free(gw);
}

void vx_gateway_set_free_hook(struct vx_gateway *gw, void (*fn)(void *arg), void *arg)
{
    gw->on_free = fn;
    gw->on_free_arg = arg;
}

struct vx_transport *vx_gateway_transport(const struct vx_gateway *gw)
{
    return gw->t;
}

struct vx_services *vx_gateway_services(const struct vx_gateway *gw)
{
    return gw->svcs;
}

struct vx_path *vx_gateway_path(const struct vx_gateway *gw)
{
    return gw->path;
}

struct vx_front *vx_gateway_front(const struct vx_gateway *gw)
{
    return gw->front;
}
