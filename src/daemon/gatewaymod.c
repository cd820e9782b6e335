/* gatewaymod.c — the data plane as vx6d modules, and its control commands. */
#include "daemon/gatewaymod.h"
#include "daemon/gateway.h"
#include "front/front.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/log.h"
#include "path/path.h"
#include "service/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vx_gatewaymod {
    struct vx_daemon *d;
    struct vx_gateway *gw;
    int refs; /* registered in two slots; freed with the last */
};

struct vx_gatewaymod *vx_gatewaymod_new(void)
{
    struct vx_gatewaymod *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    m->refs = 2;
    return m;
}

struct vx_gateway *vx_gatewaymod_gateway(const struct vx_gatewaymod *m)
{
    return m ? m->gw : NULL;
}

/* ---- `services` ---------------------------------------------------------- */

static void fmt_target(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap)
{
    if (vx_addr_format((const struct sockaddr *)ss, len, out, cap) < 0)
        snprintf(out, cap, "?");
}

static int cmd_services(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct vx_services *svcs = vx_gateway_services(m->gw);
    const struct vx_config *cfg = vx_daemon_config(m->d);
    size_t n = vx_services_count(svcs);
    char a[VX_ADDR_STRLEN];
    (void)req;

    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_arr_begin(j);
        for (size_t i = 0; i < n; i++) {
            const struct vx_service_def *s = vx_services_get(svcs, i);
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "name", s->name);
            if (cfg->user && !s->hidden) {
                char full[200];
                snprintf(full, sizeof(full), "%s.%s.vx6", cfg->user, s->name);
                vx_json_kv_str(j, "address", full);
            }
            vx_json_kv_bool(j, "hidden", s->hidden);
            if (s->has_target) {
                fmt_target(&s->target, s->target_len, a, sizeof(a));
                vx_json_kv_str(j, "target", a);
            }
            vx_json_key(j, "ports");
            vx_json_arr_begin(j);
            for (size_t k = 0; k < s->nports; k++) {
                vx_json_obj_begin(j);
                vx_json_kv_uint(j, "port", s->ports[k].vport);
                fmt_target(&s->ports[k].target, s->ports[k].target_len, a, sizeof(a));
                vx_json_kv_str(j, "target", a);
                vx_json_obj_end(j);
            }
            vx_json_arr_end(j);
            vx_json_kv_uint(j, "allow", s->nallow);
            vx_json_kv_str(j, "route",
                           s->route == VX_SERVICE_ROUTE_RELAY    ? "relay"
                           : s->route == VX_SERVICE_ROUTE_DIRECT ? "direct"
                                                                 : "auto");
            vx_json_obj_end(j);
        }
        vx_json_arr_end(j);
        return 0;
    }
    if (n == 0) {
        vx_ctl_reply_printf(r, "no services published (add them under 'services:' in %s)\n",
                            "vx6.yaml");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vx_service_def *s = vx_services_get(svcs, i);
        if (s->hidden)
            vx_ctl_reply_printf(r, "%s (hidden; see 'vx6 hidden address %s')\n", s->name, s->name);
        else if (cfg->user)
            vx_ctl_reply_printf(r, "%s  as %s.%s.vx6\n", s->name, cfg->user, s->name);
        else
            vx_ctl_reply_printf(r,
                                "%s  (no 'user:' configured: reachable only as "
                                "%s.<address>.ipv6.vx6)\n",
                                s->name, s->name);
        for (size_t k = 0; k < s->nports; k++) {
            fmt_target(&s->ports[k].target, s->ports[k].target_len, a, sizeof(a));
            vx_ctl_reply_printf(r, "    port %-5u -> %s\n", s->ports[k].vport, a);
        }
        if (s->has_target) {
            fmt_target(&s->target, s->target_len, a, sizeof(a));
            vx_ctl_reply_printf(r, "    %s -> %s\n", s->nports ? "other ports" : "any port", a);
        }
        if (s->nallow)
            vx_ctl_reply_printf(r, "    allowed clients: %zu node IDs\n", s->nallow);
        if (s->route == VX_SERVICE_ROUTE_RELAY)
            vx_ctl_reply_printf(r, "    route: relay circuits only\n");
        else if (s->route == VX_SERVICE_ROUTE_DIRECT)
            vx_ctl_reply_printf(r, "    route: direct streams only\n");
    }
    return 0;
}

/* ---- `forwards`, `connect`, `disconnect` --------------------------------- */

struct fwd_list {
    struct vx_ctl_reply *r;
    struct vx_json *j;
    int n;
};

static void list_forward(const struct vx_front_forward_info *fi, void *arg)
{
    struct fwd_list *l = arg;
    char a[VX_ADDR_STRLEN];

    fmt_target(&fi->listen, fi->listen_len, a, sizeof(a));
    l->n++;
    if (l->j) {
        vx_json_obj_begin(l->j);
        vx_json_kv_str(l->j, "listen", a);
        vx_json_kv_str(l->j, "host", fi->host);
        vx_json_kv_uint(l->j, "port", fi->port);
        vx_json_kv_str(l->j, "route", vx_route_name(fi->route));
        vx_json_kv_bool(l->j, "runtime", fi->runtime);
        vx_json_kv_uint(l->j, "connections", fi->conns);
        vx_json_obj_end(l->j);
        return;
    }
    vx_ctl_reply_printf(l->r, "%-24s -> %s:%u  route %s, %llu connections%s\n", a, fi->host,
                        fi->port, vx_route_name(fi->route), (unsigned long long)fi->conns,
                        fi->runtime ? " (vx6 connect)" : "");
}

static int cmd_forwards(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct fwd_list l = {r, NULL, 0};
    (void)req;

    if (vx_ctl_reply_is_json(r)) {
        l.j = vx_ctl_reply_json(r);
        vx_json_arr_begin(l.j);
    }
    vx_front_foreach_forward(vx_gateway_front(m->gw), list_forward, &l);
    if (l.j)
        vx_json_arr_end(l.j);
    else if (l.n == 0)
        vx_ctl_reply_printf(r, "no forwards (add one with 'vx6 connect NAME --listen ADDR')\n");
    return 0;
}

/* "alice.db.vx6:5432" -> host, port; "alice.db.vx6" -> host, port 0.  An
 * IPv6 literal host needs brackets when a port follows. */
static int split_host_port(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    size_t hl;
    char *end;
    unsigned long p = 0;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return VX_ERR_BADADDR;
        hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= cap)
            return VX_ERR_BADADDR;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb[1] != '\0')
            return VX_ERR_BADADDR;
    } else {
        if (colon && strchr(s, ':') != colon)
            return VX_ERR_BADADDR; /* a bare IPv6 literal: use brackets */
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0 || hl >= cap)
            return VX_ERR_BADADDR;
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (colon) {
        p = strtoul(colon + 1, &end, 10);
        if (*end || end == colon + 1 || p == 0 || p > 65535)
            return VX_ERR_BADADDR;
    }
    *port = (uint16_t)p;
    return 0;
}

static int cmd_connect(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_gatewaymod *m = arg;
    char host[256], a[VX_ADDR_STRLEN];
    uint16_t port;
    struct sockaddr_storage ss, bound;
    socklen_t len, blen = sizeof(bound);
    enum vx_route route = VX_ROUTE_AUTO;
    const char *why = NULL;
    int rc;

    if (split_host_port(req->argv[0], host, sizeof(host), &port) < 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR,
                                  "'%s' is not NAME or NAME:PORT (e.g. alice.db.vx6:5432)",
                                  req->argv[0]);
    if (vx_addr_parse_ex(req->argv[1], VX_ADDR_BARE_PORT_LOOPBACK, &ss, &len, &why) < 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR, "bad listen address '%s': %s", req->argv[1],
                                  why ? why : "invalid");
    if (req->argc > 2) {
        int rt = vx_route_parse(req->argv[2]);
        if (rt < 0)
            return vx_ctl_reply_error(r, VX_ERR_INVAL, "bad route '%s' (direct, relay or auto)",
                                      req->argv[2]);
        route = (enum vx_route)rt;
    }
    if (port == 0)
        port = vx_addr_port((const struct sockaddr *)&ss); /* same port as the listener */
    if (port == 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR,
                                  "no remote port: give NAME:PORT when listening on port 0");
    rc = vx_front_add_forward(vx_gateway_front(m->gw), (const struct sockaddr *)&ss, len, host,
                              port, route, 1, &bound, &blen);
    if (rc < 0)
        return vx_ctl_reply_error(r, rc, "cannot forward %s to %s:%u: %s", req->argv[1], host, port,
                                  rc == VX_ERR_EXISTS    ? "a forward already listens there"
                                  : rc == VX_ERR_SYS     ? "cannot listen on that address"
                                  : rc == VX_ERR_BADADDR ? "not a vx6 name"
                                                         : vx_strerror(rc));
    fmt_target(&bound, blen, a, sizeof(a));
    log_info(LD_FRONT, "forward %s -> %s:%u added (control socket)", a, host, port);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "listen", a);
        vx_json_kv_str(j, "host", host);
        vx_json_kv_uint(j, "port", port);
        vx_json_kv_str(j, "route", vx_route_name(route));
        vx_json_obj_end(j);
    } else {
        vx_ctl_reply_printf(r, "forwarding %s -> %s:%u\n", a, host, port);
    }
    return 0;
}

static int cmd_disconnect(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why = NULL;

    if (vx_addr_parse_ex(req->argv[0], VX_ADDR_BARE_PORT_LOOPBACK, &ss, &len, &why) < 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR, "bad listen address '%s': %s", req->argv[0],
                                  why ? why : "invalid");
    if (vx_front_remove_forward(vx_gateway_front(m->gw), (const struct sockaddr *)&ss, len) < 0)
        return vx_ctl_reply_error(r, VX_ERR_NOTFOUND, "no forward listens on %s", req->argv[0]);
    vx_ctl_reply_printf(r, "forward on %s removed (open tunnels stay up)\n", req->argv[0]);
    return 0;
}

static const struct vx_ctl_command gw_commands[] = {
        {"services", "", "published services and their localhost targets", 0, 0, cmd_services},
};

static const struct vx_ctl_command front_commands[] = {
        {"forwards", "", "local forwarded ports", 0, 0, cmd_forwards},
        {"connect", "NAME[:PORT] LISTEN [ROUTE]",
         "forward a local port to a vx6 name (e.g. alice.db.vx6:5432 127.0.0.1:5432)", 2, 3,
         cmd_connect},
        {"disconnect", "LISTEN", "remove a forward made with connect", 1, 1, cmd_disconnect},
};

static void register_all(struct vx_gatewaymod *m, const struct vx_ctl_command *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vx_control_register(vx_daemon_control(m->d), &cmds[i], m);
}

/* ---- module hooks ----------------------------------------------------- */

static int gw_start(struct vx_daemon *d, void *arg)
{
    struct vx_gatewaymod *m = arg;
    char err[512] = "";
    int rc;

    m->d = d;
    rc = vx_gateway_new(vx_daemon_loop(d), vx_daemon_identity(d), vx_daemon_config(d), &m->gw, err,
                        sizeof(err));
    if (rc < 0) {
        log_err(LD_GENERAL, "%s", err[0] ? err : vx_strerror(rc));
        return rc;
    }
    register_all(m, gw_commands, sizeof(gw_commands) / sizeof(gw_commands[0]));
    /* for metrics and the XDP blocklist feed (daemon.h) */
    vx_daemon_publish(d, VX_OBJ_TRANSPORT, vx_gateway_transport(m->gw));
    vx_daemon_publish(d, VX_OBJ_SERVICES, vx_gateway_services(m->gw));
    vx_daemon_publish(d, VX_OBJ_PATH, vx_gateway_path(m->gw));
    vx_daemon_publish(d, VX_OBJ_FRONT, vx_gateway_front(m->gw));
    return 0;
}

static void gw_apply(struct vx_daemon *d, const struct vx_config *old_cfg,
                     const struct vx_config *new_cfg, void *arg)
{
    struct vx_gatewaymod *m = arg;
    int rc;
    (void)d;
    (void)old_cfg;
    if (!m->gw)
        return;
    rc = vx_gateway_reload(m->gw, new_cfg);
    if (rc < 0)
        log_warn(LD_GENERAL, "reload: part of the new configuration was not applied: %s",
                 vx_strerror(rc));
}

static int gw_check(const struct vx_config *new_cfg, char *err, size_t errlen, void *arg)
{
    struct vx_service_def *defs = NULL;
    size_t n = 0;
    int rc = vx_gateway_service_defs(new_cfg, &defs, &n);
    (void)arg;
    free(defs);
    if (rc < 0) {
        snprintf(err, errlen, "services cannot be applied: %s", vx_strerror(rc));
        return VX_ERR_CONFIG;
    }
    return 0;
}

static void gw_stats(struct vx_daemon_stats *st, void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct vx_transport_stats ts;
    if (!m->gw)
        return;
    vx_transport_get_stats(vx_gateway_transport(m->gw), &ts);
    st->sessions += ts.sessions;
    st->streams += ts.streams;
    st->services += vx_services_count(vx_gateway_services(m->gw));
}

static size_t gw_busy(void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct vx_transport_stats ts;
    if (!m->gw)
        return 0;
    vx_transport_get_stats(vx_gateway_transport(m->gw), &ts);
    return ts.streams;
}

static void mod_free(void *arg)
{
    struct vx_gatewaymod *m = arg;
    if (--m->refs > 0)
        return;
    if (m->gw)
        for (int i = 0; i < VX_OBJ_COUNT_; i++)
            if (i == VX_OBJ_TRANSPORT || i == VX_OBJ_SERVICES || i == VX_OBJ_PATH ||
                i == VX_OBJ_FRONT)
                vx_daemon_publish(m->d, (enum vx_daemon_obj)i, NULL);
    vx_gateway_free(m->gw);
    free(m);
}

static int front_start(struct vx_daemon *d, void *arg)
{
    struct vx_gatewaymod *m = arg;
    (void)d;
    if (!m->gw) /* the transport slot starts first; it failed */
        return VX_ERR_INTERNAL;
    register_all(m, front_commands, sizeof(front_commands) / sizeof(front_commands[0]));
    return 0;
}

static size_t front_busy(void *arg)
{
    struct vx_gatewaymod *m = arg;
    struct vx_front_stats fs;
    if (!m->gw)
        return 0;
    vx_front_get_stats(vx_gateway_front(m->gw), &fs);
    return fs.tunnels;
}

const struct vx_daemon_module_ops vx_gatewaymod_ops = {
        .name = "gateway",
        .start = gw_start,
        .check_config = gw_check,
        .apply_config = gw_apply,
        .stats = gw_stats,
        .busy = gw_busy,
        .free = mod_free,
};

const struct vx_daemon_module_ops vx_gatewaymod_front_ops = {
        .name = "front",
        .start = front_start,
        .busy = front_busy,
        .free = mod_free,
};
