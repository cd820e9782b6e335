/* xdpmod.c — the XDP classifier as a vx6d module.  See xdpmod.h. */
#include "daemon/xdpmod.h"
#include "daemon/xdp.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/vxtime.h"

#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_SECS 5.0

struct track {
    struct vx_prefix p;
    uint64_t first_ms; /* start of the current window */
    uint64_t last_ms;
    unsigned n;
    bool used;
};

struct autoblock {
    char prefix[64];
    uint64_t until_ms;
};

struct vx_xdpmod {
    struct vx_daemon *d;
    struct ev_loop *loop;
    struct vx_xdp *x; /* NULL: not attached */
    char ifname[IF_NAMESIZE];
    enum vx_xdp_mode mode;
    char why[256]; /* why not attached */
    bool started;

    struct track tracked[VX_XDPMOD_TRACKED];
    struct autoblock *blocks;
    size_t nblocks;
    uint64_t blocks_total;
    ev_timer expire_timer;

    struct vx_counter *m_pass_pkts[VX_XDP_CLASS_COUNT], *m_pass_bytes[VX_XDP_CLASS_COUNT];
    struct vx_counter *m_drop_pkts[VX_XDP_DROP_COUNT], *m_drop_bytes[VX_XDP_DROP_COUNT];
    struct vx_gauge *m_attached, *m_blocked;
    struct vx_counter *m_autoblocks;
};

/* ---- attach / detach --------------------------------------------------- */

static void limits_of(const struct vx_config *cfg, struct vx_xdp_limits *lim)
{
    vx_xdp_limits_default(lim);
    if (cfg->n_listen)
        lim->node_port = vx_addr_port((const struct sockaddr *)&cfg->listen[0].ss);
    lim->udp_rate_pps = cfg->xdp_udp_rate;
    lim->udp_burst = cfg->xdp_udp_burst;
}

static enum vx_xdp_mode mode_of(enum vx_cfg_xdp_mode m)
{
    return m == VX_CFG_XDP_GENERIC ? VX_XDP_MODE_GENERIC : VX_XDP_MODE_NATIVE;
}

static void detach(struct vx_xdpmod *m, const char *why)
{
    if (!m->x)
        return;
    if (vx_xdp_detach(m->x) == 0)
        log_info(LD_BPF, "XDP classifier off %s: %s", m->ifname, why);
    else
        log_warn(LD_BPF, "XDP classifier on %s: detach failed: %s", m->ifname, vx_xdp_last_error());
    m->x = NULL;
    snprintf(m->why, sizeof(m->why), "detached (%s)", why);
}

static int attach(struct vx_xdpmod *m, const char *ifname, enum vx_xdp_mode mode)
{
    struct vx_xdp_limits lim;
    struct vx_xdp *x = NULL;
    int rc;

    snprintf(m->ifname, sizeof(m->ifname), "%s", ifname);
    m->mode = mode;
    if (!vx_xdp_available()) {
        snprintf(m->why, sizeof(m->why),
                 "this vx6d was built without XDP support (configure --enable-xdp)");
        log_notice(LD_BPF, "xdp: %s configured, but %s; running without it", ifname, m->why);
        return VX_ERR_NOTFOUND;
    }
    limits_of(vx_daemon_config(m->d), &lim);
    rc = vx_xdp_attach(ifname, mode, &lim, &x);
    if (rc < 0) {
        snprintf(m->why, sizeof(m->why), "%s", vx_xdp_last_error());
        log_warn(LD_BPF, "XDP classifier not attached to %s (%s mode): %s; vx6d runs without it",
                 ifname, vx_xdp_mode_name(mode), m->why);
        return rc;
    }
    m->x = x;
    m->why[0] = '\0';
    for (size_t i = 0; i < m->nblocks; i++)
        vx_xdp_block(m->x, m->blocks[i].prefix);
    log_info(LD_BPF, "XDP limits on %s: UDP %u packets/s per source, burst %u", ifname,
             lim.udp_rate_pps, lim.udp_burst);
    return 0;
}

/* ---- blocklist feed ---------------------------------------------------- */

static void prefix_str(const struct vx_prefix *p, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(p->family, p->addr, a, sizeof(a));
    snprintf(out, cap, "%s/%u", a, p->bits);
}

static struct track *track_find(struct vx_xdpmod *m, const struct vx_prefix *p, uint64_t now)
{
    struct track *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < VX_XDPMOD_TRACKED; i++) {
        struct track *t = &m->tracked[i];
        if (!t->used) {
            if (!free_slot)
                free_slot = t;
            continue;
        }
        if (t->p.family == p->family && t->p.bits == p->bits &&
            memcmp(t->p.addr, p->addr, sizeof(p->addr)) == 0)
            return t;
        if (now - t->first_ms > VX_XDPMOD_FAIL_WINDOW_MS && !free_slot)
            free_slot = t; /* stale */
        if (!oldest || t->last_ms < oldest->last_ms)
            oldest = t;
    }
    struct track *t = free_slot ? free_slot : oldest;
    memset(t, 0, sizeof(*t));
    t->p = *p;
    t->used = true;
    t->first_ms = now;
    return t;
}

static void autoblock(struct vx_xdpmod *m, const char *prefix, uint64_t now)
{
    for (size_t i = 0; i < m->nblocks; i++)
        if (strcmp(m->blocks[i].prefix, prefix) == 0) {
            m->blocks[i].until_ms = now + VX_XDPMOD_BLOCK_MS;
            return;
        }
    if (m->nblocks >= VX_XDPMOD_MAX_AUTOBLOCK) {
        log_warn_rl(LD_BPF, "xdp: %d prefixes blocked already; not blocking %s",
                    VX_XDPMOD_MAX_AUTOBLOCK, prefix);
        return;
    }
    struct autoblock *nb = realloc(m->blocks, (m->nblocks + 1) * sizeof(*nb));
    if (!nb)
        abort();
    m->blocks = nb;
    snprintf(nb[m->nblocks].prefix, sizeof(nb[m->nblocks].prefix), "%s", prefix);
    nb[m->nblocks].until_ms = now + VX_XDPMOD_BLOCK_MS;
    m->nblocks++;
    m->blocks_total++;
    vx_counter_inc(m->m_autoblocks);
    vx_daemon_count_limit(m->d, "handshake_failures");
    if (m->x && vx_xdp_block(m->x, prefix) == 0)
        log_notice(LD_BPF, "xdp: blocked %s for %d s after %d failed handshakes within %d s",
                   prefix, VX_XDPMOD_BLOCK_MS / 1000, VX_XDPMOD_FAIL_MAX,
                   VX_XDPMOD_FAIL_WINDOW_MS / 1000);
    else
        log_notice(LD_BPF, "%s: %d failed handshakes within %d s (not blocked: XDP not attached)",
                   prefix, VX_XDPMOD_FAIL_MAX, VX_XDPMOD_FAIL_WINDOW_MS / 1000);
}

static void hsfail_cb(const struct sockaddr *sa, unsigned salen, int err, void *arg)
{
    struct vx_xdpmod *m = arg;
    struct vx_prefix p;
    uint64_t now = vx_time_mono_ms();
    char ps[64];

    /* A peer that just closed (a TCP health check, a port probe) is not
     * abusive; malformed or unauthenticated handshakes and silence past the
     * handshake timeout are. */
    if (err == VX_ERR_UNREACH || err == VX_ERR_CLOSED)
        return;
    if (vx_prefix_from_sockaddr(sa, 32, 64, &p) < 0)
        return;
    struct track *t = track_find(m, &p, now);
    if (now - t->first_ms > VX_XDPMOD_FAIL_WINDOW_MS) {
        t->first_ms = now;
        t->n = 0;
    }
    t->last_ms = now;
    if (++t->n < VX_XDPMOD_FAIL_MAX)
        return;
    prefix_str(&p, ps, sizeof(ps));
    t->n = 0;
    t->first_ms = now;
    autoblock(m, ps, now);
}

static void expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_xdpmod *m = w->data;
    uint64_t now = vx_time_mono_ms();
    size_t k = 0;
    for (size_t i = 0; i < m->nblocks; i++) {
        if (m->blocks[i].until_ms > now) {
            m->blocks[k++] = m->blocks[i];
            continue;
        }
        if (m->x)
            vx_xdp_unblock(m->x, m->blocks[i].prefix);
        log_info(LD_BPF, "xdp: block on %s expired", m->blocks[i].prefix);
    }
    m->nblocks = k;
}

/* ---- metrics ------------------------------------------------------------ */

static void collect(struct vx_metrics *mx, void *arg)
{
    struct vx_xdpmod *m = arg;
    struct vx_xdp_status st;

    vx_gauge_set(m->m_attached, m->x ? 1 : 0);
    if (!m->x || vx_xdp_status(m->x, &st) < 0)
        return;
    vx_gauge_set(m->m_blocked, (double)st.nblocked);
    for (int i = 0; i < VX_XDP_CLASS_COUNT; i++) {
        m->m_pass_pkts[i]->v = st.counters.passed[i].packets;
        m->m_pass_bytes[i]->v = st.counters.passed[i].bytes;
    }
    for (int i = 0; i < VX_XDP_DROP_COUNT; i++) {
        m->m_drop_pkts[i]->v = st.counters.dropped[i].packets;
        m->m_drop_bytes[i]->v = st.counters.dropped[i].bytes;
    }
}

static void register_metrics(struct vx_xdpmod *m)
{
    struct vx_metrics *mx = vx_daemon_metrics(m->d);
    for (int i = 0; i < VX_XDP_CLASS_COUNT; i++) {
        const char *c = vx_xdp_class_name(i);
        m->m_pass_pkts[i] = vx_metrics_counter(mx, "vx6_xdp_passed_packets_total",
                                               "Packets to the node port the XDP classifier "
                                               "passed, by class (since it was attached).",
                                               "class", c, NULL);
        m->m_pass_bytes[i] =
                vx_metrics_counter(mx, "vx6_xdp_passed_bytes_total",
                                   "Bytes the XDP classifier passed, by class.", "class", c, NULL);
    }
    for (int i = 0; i < VX_XDP_DROP_COUNT; i++) {
        const char *r = vx_xdp_drop_name(i);
        m->m_drop_pkts[i] = vx_metrics_counter(mx, "vx6_xdp_dropped_packets_total",
                                               "Packets the XDP classifier dropped, by reason.",
                                               "reason", r, NULL);
        m->m_drop_bytes[i] = vx_metrics_counter(mx, "vx6_xdp_dropped_bytes_total",
                                                "Bytes the XDP classifier dropped, by reason.",
                                                "reason", r, NULL);
    }
    m->m_attached = vx_metrics_gauge(mx, "vx6_xdp_attached",
                                     "1 while the XDP classifier is attached.", NULL);
    m->m_blocked = vx_metrics_gauge(mx, "vx6_xdp_blocked_prefixes",
                                    "Source prefixes on the XDP blocklist.", NULL);
    m->m_autoblocks = vx_metrics_counter(mx, "vx6_xdp_autoblocks_total",
                                         "Prefixes blocked for repeated handshake failures.", NULL);
    vx_metrics_add_collector(mx, collect, m);
}

/* ---- control commands and status --------------------------------------- */

static uint64_t block_expiry_s(const struct vx_xdpmod *m, const char *prefix, uint64_t now)
{
    for (size_t i = 0; i < m->nblocks; i++)
        if (strcmp(m->blocks[i].prefix, prefix) == 0)
            return m->blocks[i].until_ms > now ? (m->blocks[i].until_ms - now + 999) / 1000 : 0;
    return 0;
}

static void status_json(struct vx_xdpmod *m, struct vx_json *j, bool full)
{
    struct vx_xdp_status st;
    bool have = m->x && vx_xdp_status(m->x, &st) == 0;

    vx_json_obj_begin(j);
    vx_json_kv_bool(j, "available", vx_xdp_available());
    vx_json_kv_bool(j, "attached", m->x != NULL);
    vx_json_kv_str(j, "interface", m->ifname[0] ? m->ifname : NULL);
    vx_json_kv_str(j, "mode", m->ifname[0] ? vx_xdp_mode_name(m->mode) : NULL);
    if (!m->x)
        vx_json_kv_str(j, "reason", m->why[0] ? m->why : "not configured (xdp: in vx6.yaml)");
    if (have) {
        vx_json_kv_uint(j, "program_id", st.prog_id);
        vx_json_kv_int(j, "ifindex", st.ifindex);
        vx_json_kv_uint(j, "node_port", st.limits.node_port);
        vx_json_kv_uint(j, "udp_rate", st.limits.udp_rate_pps);
        vx_json_kv_uint(j, "udp_burst", st.limits.udp_burst);
        vx_json_key(j, "passed");
        vx_json_obj_begin(j);
        for (int i = 0; i < VX_XDP_CLASS_COUNT; i++) {
            vx_json_key(j, vx_xdp_class_name(i));
            vx_json_obj_begin(j);
            vx_json_kv_uint(j, "packets", st.counters.passed[i].packets);
            vx_json_kv_uint(j, "bytes", st.counters.passed[i].bytes);
            vx_json_obj_end(j);
        }
        vx_json_obj_end(j);
        vx_json_key(j, "dropped");
        vx_json_obj_begin(j);
        for (int i = 0; i < VX_XDP_DROP_COUNT; i++) {
            vx_json_key(j, vx_xdp_drop_name(i));
            vx_json_obj_begin(j);
            vx_json_kv_uint(j, "packets", st.counters.dropped[i].packets);
            vx_json_kv_uint(j, "bytes", st.counters.dropped[i].bytes);
            vx_json_obj_end(j);
        }
        vx_json_obj_end(j);
    }
    vx_json_kv_uint(j, "autoblocks_total", m->blocks_total);
    if (full) {
        uint64_t now = vx_time_mono_ms();
        vx_json_key(j, "blocklist");
        vx_json_arr_begin(j);
        if (have && st.nblocked) {
            size_t n = st.nblocked;
            struct vx_xdp_block_entry *e = calloc(n, sizeof(*e));
            if (!e)
                abort();
            int got = vx_xdp_block_list(m->x, e, n);
            for (int i = 0; i < got && (size_t)i < n; i++) {
                vx_json_obj_begin(j);
                vx_json_kv_str(j, "prefix", e[i].prefix);
                vx_json_kv_uint(j, "hits", e[i].hits);
                vx_json_kv_uint(j, "expires_s", block_expiry_s(m, e[i].prefix, now));
                vx_json_obj_end(j);
            }
            free(e);
        }
        vx_json_arr_end(j);
    } else if (have)
        vx_json_kv_uint(j, "blocked", st.nblocked);
    vx_json_obj_end(j);
}

static void status_text(struct vx_xdpmod *m, struct vx_ctl_reply *r, bool full)
{
    struct vx_xdp_status st;

    if (!m->x) {
        vx_ctl_reply_printf(r, "xdp:        not attached: %s\n",
                            m->why[0] ? m->why : "not configured (xdp: in vx6.yaml)");
        return;
    }
    if (vx_xdp_status(m->x, &st) < 0) {
        vx_ctl_reply_printf(r, "xdp:        %s: %s\n", m->ifname, vx_xdp_last_error());
        return;
    }
    vx_ctl_reply_printf(r, "xdp:        %s, %s mode, program id %u, node port %u\n", m->ifname,
                        vx_xdp_mode_name(m->mode), st.prog_id, st.limits.node_port);
    if (full)
        vx_ctl_reply_printf(r, "udp limit:  %u packets/s per source, burst %u\n",
                            st.limits.udp_rate_pps, st.limits.udp_burst);
    vx_ctl_reply_printf(r, "  passed:");
    for (int i = 0; i < VX_XDP_CLASS_COUNT; i++)
        vx_ctl_reply_printf(r, " %s %llu", vx_xdp_class_name(i),
                            (unsigned long long)st.counters.passed[i].packets);
    vx_ctl_reply_printf(r, " (packets)\n  dropped:");
    for (int i = 0; i < VX_XDP_DROP_COUNT; i++)
        vx_ctl_reply_printf(r, " %s %llu", vx_xdp_drop_name(i),
                            (unsigned long long)st.counters.dropped[i].packets);
    vx_ctl_reply_printf(r, " (packets)\n  blocked prefixes: %zu (%llu blocked automatically)\n",
                        st.nblocked, (unsigned long long)m->blocks_total);
    if (full && st.nblocked) {
        size_t n = st.nblocked;
        uint64_t now = vx_time_mono_ms();
        struct vx_xdp_block_entry *e = calloc(n, sizeof(*e));
        if (!e)
            abort();
        int got = vx_xdp_block_list(m->x, e, n);
        for (int i = 0; i < got && (size_t)i < n; i++) {
            uint64_t exp = block_expiry_s(m, e[i].prefix, now);
            vx_ctl_reply_printf(r, "    %-44s %llu packets dropped", e[i].prefix,
                                (unsigned long long)e[i].hits);
            if (exp)
                vx_ctl_reply_printf(r, ", expires in %llus", (unsigned long long)exp);
            vx_ctl_reply_printf(r, "\n");
        }
        free(e);
    }
}

static void mod_status(struct vx_ctl_reply *r, void *arg)
{
    struct vx_xdpmod *m = arg;
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_key(j, "xdp");
        status_json(m, j, false);
    } else
        status_text(m, r, false);
}

static int cmd_status(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_xdpmod *m = arg;
    if (vx_ctl_reply_is_json(r))
        status_json(m, vx_ctl_reply_json(r), true);
    else
        status_text(m, r, true);
    return 0;
}

static int cmd_attach(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_xdpmod *m = arg;
    const struct vx_config *cfg = vx_daemon_config(m->d);
    const char *ifname = NULL;
    enum vx_xdp_mode mode = mode_of(cfg->xdp_mode);
    int rc;

    for (int i = 0; i < req->argc; i++) {
        if (strcmp(req->argv[i], "native") == 0)
            mode = VX_XDP_MODE_NATIVE;
        else if (strcmp(req->argv[i], "generic") == 0)
            mode = VX_XDP_MODE_GENERIC;
        else if (!ifname)
            ifname = req->argv[i];
        else
            return vx_ctl_reply_error(r, VX_ERR_INVAL, "unexpected argument '%s'", req->argv[i]);
    }
    if (!ifname)
        ifname = m->x ? m->ifname : cfg->xdp_interface;
    if (!ifname)
        return vx_ctl_reply_error(r, VX_ERR_INVAL,
                                  "which interface? (no xdp: interface in the config)");
    if (strlen(ifname) >= IF_NAMESIZE)
        return vx_ctl_reply_error(r, VX_ERR_INVAL, "bad interface name '%s'", ifname);
    char name[IF_NAMESIZE];
    snprintf(name, sizeof(name), "%s", ifname);
    if (m->x)
        detach(m, "re-attaching");
    rc = attach(m, name, mode);
    if (rc < 0)
        return vx_ctl_reply_error(r, rc, "%s", m->why);
    return cmd_status(r, req, arg);
}

static int cmd_detach(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_xdpmod *m = arg;
    if (!m->x)
        return vx_ctl_reply_error(r, VX_ERR_NOTFOUND, "the XDP classifier is not attached");
    char name[IF_NAMESIZE];
    snprintf(name, sizeof(name), "%s", m->ifname);
    detach(m, "vx6 ebpf detach");
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_bool(j, "detached", true);
        vx_json_kv_str(j, "interface", name);
        vx_json_obj_end(j);
    } else
        vx_ctl_reply_printf(r, "XDP classifier detached from %s\n", name);
    return 0;
}

static const struct vx_ctl_command cmds[] = {
        {"ebpf-status", NULL,
         "XDP classifier: interface, mode, program, counters per class and drop reason, "
         "blocklist",
         0, 0, cmd_status},
        {"ebpf-attach", "[IFACE] [native|generic]", "attach the XDP classifier", 0, 2, cmd_attach},
        {"ebpf-detach", NULL, "detach the XDP classifier", 0, 0, cmd_detach},
};

/* ---- module hooks ------------------------------------------------------- */

static int mod_start(struct vx_daemon *d, void *arg)
{
    struct vx_xdpmod *m = arg;
    const struct vx_config *cfg = vx_daemon_config(d);

    m->d = d;
    m->loop = vx_daemon_loop(d);
    m->started = true;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        vx_control_register(vx_daemon_control(d), &cmds[i], m);
    register_metrics(m);
    vx_daemon_set_handshake_fail_hook(d, hsfail_cb, m);
    ev_timer_init(&m->expire_timer, expire_cb, EXPIRE_SECS, EXPIRE_SECS);
    m->expire_timer.data = m;
    ev_timer_start(m->loop, &m->expire_timer);
    ev_unref(m->loop);
    if (cfg->xdp_interface)
        attach(m, cfg->xdp_interface, mode_of(cfg->xdp_mode)); /* failure logged, not fatal */
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static void mod_apply(struct vx_daemon *d, const struct vx_config *o, const struct vx_config *n,
                      void *arg)
{
    struct vx_xdpmod *m = arg;
    struct vx_xdp_limits ol, nl;

    if (!str_eq(o->xdp_interface, n->xdp_interface) || o->xdp_mode != n->xdp_mode) {
        detach(m, "configuration changed");
        if (n->xdp_interface)
            attach(m, n->xdp_interface, mode_of(n->xdp_mode));
        else
            m->ifname[0] = '\0';
        return;
    }
    limits_of(o, &ol);
    limits_of(n, &nl);
    if (m->x && memcmp(&ol, &nl, sizeof(ol)) != 0) {
        if (vx_xdp_set_limits(m->x, &nl) == 0)
            log_notice(LD_BPF, "XDP limits: node port %u, UDP %u/s burst %u", nl.node_port,
                       nl.udp_rate_pps, nl.udp_burst);
    }
}

static void mod_stop(void *arg)
{
    detach(arg, "vx6d stopping");
}

static void mod_free(void *arg)
{
    struct vx_xdpmod *m = arg;
    if (!m)
        return;
    detach(m, "vx6d stopping");
    if (m->started) {
        vx_daemon_set_handshake_fail_hook(m->d, NULL, NULL);
        vx_metrics_remove_collector(vx_daemon_metrics(m->d), collect, m);
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
            vx_control_unregister(vx_daemon_control(m->d), cmds[i].name);
        ev_ref(m->loop);
        ev_timer_stop(m->loop, &m->expire_timer);
    }
    free(m->blocks);
    free(m);
}

const struct vx_daemon_module_ops vx_xdpmod_ops = {
        .name = "xdp",
        .start = mod_start,
        .apply_config = mod_apply,
        .stop = mod_stop,
        .free = mod_free,
        .status = mod_status,
};

struct vx_xdpmod *vx_xdpmod_new(void)
{
    struct vx_xdpmod *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    return m;
}
