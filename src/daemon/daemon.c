/* daemon.c — vx6d's core: the composition root. */
#include "daemon/daemon.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/vxtime.h"
#include "transport/transport.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct module {
    const struct vx_daemon_module_ops *ops;
    void *arg;
    bool started;
};

enum daemon_state { DS_NEW, DS_RUNNING, DS_STOPPING, DS_DONE };

struct vx_daemon {
    struct ev_loop *loop;
    enum daemon_state state;
    struct vx_config *cfg;
    char *config_path;  /* NULL: built-in defaults */
    char *log_override; /* vx6d -d */
    char log_spec[256]; /* in force */
    struct vx_identity id;
    char node_id[VX_NODE_ID_STRLEN + 1];
    char key_path[4096];
    struct vx_control *ctl;
    struct module mods[VX_SLOT_COUNT_];
    uint64_t started_ms;

    ev_signal sig_term, sig_int, sig_hup;
    ev_timer stop_timer; /* deferred stop (control "stop"), then drain polling */
    uint64_t stop_deadline_ms;
    const char *stop_reason;

    void *objs[VX_OBJ_COUNT_];
    struct vx_metrics *metrics;
    vx_daemon_hsfail_fn hsfail_fn;
    void *hsfail_arg;
    struct {
        vx_daemon_event_fn fn;
        void *arg;
    } ev_listeners[4];
};

static const char *const slot_names[VX_SLOT_COUNT_] = {
        "xdp", "transport", "dht", "path", "service", "front", "metrics",
};

const char *vx_daemon_slot_name(enum vx_daemon_slot slot)
{
    return (unsigned)slot < VX_SLOT_COUNT_ ? slot_names[slot] : "?";
}

/* ---- accessors --------------------------------------------------------- */

struct ev_loop *vx_daemon_loop(const struct vx_daemon *d)
{
    return d->loop;
}

const struct vx_config *vx_daemon_config(const struct vx_daemon *d)
{
    return d->cfg;
}

const struct vx_identity *vx_daemon_identity(const struct vx_daemon *d)
{
    return &d->id;
}

struct vx_control *vx_daemon_control(const struct vx_daemon *d)
{
    return d->ctl;
}

const char *vx_daemon_log_spec(const struct vx_daemon *d)
{
    return d->log_spec;
}

void vx_daemon_stats(const struct vx_daemon *d, struct vx_daemon_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < VX_SLOT_COUNT_; i++)
        if (d->mods[i].ops && d->mods[i].started && d->mods[i].ops->stats)
            d->mods[i].ops->stats(st, d->mods[i].arg);
}

int vx_daemon_set_module(struct vx_daemon *d, enum vx_daemon_slot slot,
                         const struct vx_daemon_module_ops *ops, void *arg)
{
    if ((unsigned)slot >= VX_SLOT_COUNT_ || !ops || !ops->name || !ops->start)
        return VX_ERR_INVAL;
    if (d->mods[slot].ops)
        return VX_ERR_EXISTS;
    d->mods[slot].ops = ops;
    d->mods[slot].arg = arg;
    return 0;
}

void *vx_daemon_module(const struct vx_daemon *d, enum vx_daemon_slot slot)
{
    if ((unsigned)slot >= VX_SLOT_COUNT_ || !d->mods[slot].ops)
        return NULL;
    return d->mods[slot].arg;
}

/* ---- shared objects, metrics, events ----------------------------------- */

static void emit(struct vx_daemon *d, enum vx_daemon_event ev)
{
    for (size_t i = 0; i < sizeof(d->ev_listeners) / sizeof(d->ev_listeners[0]); i++)
        if (d->ev_listeners[i].fn)
            d->ev_listeners[i].fn(d, ev, d->ev_listeners[i].arg);
}

int vx_daemon_on_event(struct vx_daemon *d, vx_daemon_event_fn fn, void *arg)
{
    for (size_t i = 0; i < sizeof(d->ev_listeners) / sizeof(d->ev_listeners[0]); i++)
        if (!d->ev_listeners[i].fn) {
            d->ev_listeners[i].fn = fn;
            d->ev_listeners[i].arg = arg;
            return 0;
        }
    return VX_ERR_LIMIT;
}

static void transport_hsfail_cb(const struct sockaddr *sa, socklen_t salen, int err, void *arg)
{
    struct vx_daemon *d = arg;
    vx_daemon_count_error(d, "handshake");
    if (err == VX_ERR_TIMEOUT)
        vx_daemon_count_limit(d, "handshake_timeout");
    if (d->hsfail_fn)
        d->hsfail_fn(sa, (unsigned)salen, err, d->hsfail_arg);
}

void vx_daemon_publish(struct vx_daemon *d, enum vx_daemon_obj what, void *obj)
{
    if ((unsigned)what >= VX_OBJ_COUNT_)
        return;
    if (what == VX_OBJ_TRANSPORT && d->objs[what] && d->objs[what] != obj)
        vx_transport_set_handshake_fail(d->objs[what], NULL, NULL);
    d->objs[what] = obj;
    if (what == VX_OBJ_TRANSPORT && obj)
        vx_transport_set_handshake_fail(obj, transport_hsfail_cb, d);
}

void *vx_daemon_lookup(const struct vx_daemon *d, enum vx_daemon_obj what)
{
    return (unsigned)what < VX_OBJ_COUNT_ ? d->objs[what] : NULL;
}

struct vx_metrics *vx_daemon_metrics(const struct vx_daemon *d)
{
    return d->metrics;
}

void vx_daemon_count_error(struct vx_daemon *d, const char *reason)
{
    struct vx_counter *c = vx_metrics_counter(d->metrics, "vx6_errors_total",
                                              "Errors by reason (handshake, stream refusals, "
                                              "timeouts, ...).",
                                              "reason", reason, NULL);
    if (c)
        vx_counter_inc(c);
}

void vx_daemon_count_limit(struct vx_daemon *d, const char *limit)
{
    struct vx_counter *c = vx_metrics_counter(
            d->metrics, "vx6_limit_hits_total",
            "Connections, streams or requests refused or closed by a limit.", "limit", limit, NULL);
    if (c)
        vx_counter_inc(c);
}

void vx_daemon_set_handshake_fail_hook(struct vx_daemon *d, vx_daemon_hsfail_fn fn, void *arg)
{
    d->hsfail_fn = fn;
    d->hsfail_arg = fn ? arg : NULL;
}

/* ---- logging ----------------------------------------------------------- */

static int apply_log_spec(struct vx_daemon *d, const char *spec)
{
    int rc = vx_log_configure(spec);
    if (rc == 0)
        snprintf(d->log_spec, sizeof(d->log_spec), "%s", spec);
    return rc;
}

static const char *config_log_spec(const struct vx_daemon *d, const struct vx_config *cfg)
{
    if (d->log_override)
        return d->log_override;
    return cfg->log_level ? cfg->log_level : "info";
}

/* ---- listeners as configured ------------------------------------------- */

struct listener_info {
    const char *role;
    const char *protocols;
    char addr[VX_ADDR_STRLEN + 8];
    bool active;
};

static size_t collect_listeners(const struct vx_daemon *d, struct listener_info *out, size_t max)
{
    const struct vx_config *c = d->cfg;
    size_t n = 0;

    if (n < max && d->ctl && vx_control_path(d->ctl)) {
        out[n] = (struct listener_info){"control", "vx6 control", "", true};
        snprintf(out[n].addr, sizeof(out[n].addr), "%s", vx_control_path(d->ctl));
        n++;
    }
    for (size_t i = 0; i < c->n_listen && n < max; i++, n++) {
        out[n] = (struct listener_info){"node", "TCP+UDP", "", d->mods[VX_SLOT_TRANSPORT].started};
        vx_addr_format((const struct sockaddr *)&c->listen[i].ss, c->listen[i].len, out[n].addr,
                       sizeof(out[n].addr));
    }
    if (c->socks_enabled && n < max) {
        out[n] = (struct listener_info){"socks", "SOCKS5, HTTP CONNECT", "",
                                        d->mods[VX_SLOT_FRONT].started};
        vx_addr_format((const struct sockaddr *)&c->socks.ss, c->socks.len, out[n].addr,
                       sizeof(out[n].addr));
        n++;
    }
    if (c->metrics_enabled && n < max) {
        out[n] = (struct listener_info){"metrics", "HTTP", "", d->mods[VX_SLOT_METRICS].started};
        vx_addr_format((const struct sockaddr *)&c->metrics.ss, c->metrics.len, out[n].addr,
                       sizeof(out[n].addr));
        n++;
    }
    return n;
}

static const char *inactive_reason(const struct listener_info *l)
{
    if (strcmp(l->role, "node") == 0)
        return "not served: no transport module in this daemon yet";
    if (strcmp(l->role, "socks") == 0)
        return "not served: no front-end module in this daemon yet";
    return "not served: no metrics module in this daemon yet";
}

/* ---- built-in control commands ----------------------------------------- */

static void module_status(const struct vx_daemon *d, struct vx_ctl_reply *r)
{
    for (int i = 0; i < VX_SLOT_COUNT_; i++)
        if (d->mods[i].ops && d->mods[i].started && d->mods[i].ops->status)
            d->mods[i].ops->status(r, d->mods[i].arg);
}

static int cmd_status(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_daemon *d = arg;
    struct listener_info ls[VX_CONFIG_MAX_LISTEN + 4];
    size_t nl = collect_listeners(d, ls, sizeof(ls) / sizeof(ls[0]));
    struct vx_daemon_stats st;
    uint64_t up = (vx_time_mono_ms() - d->started_ms) / 1000;

    vx_daemon_stats(d, &st);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "version", PACKAGE_VERSION);
        vx_json_kv_int(j, "pid", (int64_t)getpid());
        vx_json_kv_uint(j, "uptime_s", up);
        vx_json_kv_str(j, "state", d->state == DS_STOPPING ? "stopping" : "running");
        vx_json_kv_str(j, "node_id", d->node_id);
        vx_json_kv_str(j, "user", d->cfg->user);
        vx_json_kv_str(j, "config_file", d->config_path);
        vx_json_kv_str(j, "data_dir", d->cfg->data_dir);
        vx_json_kv_str(j, "log_level", d->log_spec);
        vx_json_key(j, "listeners");
        vx_json_arr_begin(j);
        for (size_t i = 0; i < nl; i++) {
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "role", ls[i].role);
            vx_json_kv_str(j, "address", ls[i].addr);
            vx_json_kv_str(j, "protocols", ls[i].protocols);
            vx_json_kv_bool(j, "active", ls[i].active);
            vx_json_obj_end(j);
        }
        vx_json_arr_end(j);
        vx_json_key(j, "counts");
        vx_json_obj_begin(j);
        vx_json_kv_uint(j, "sessions", st.sessions);
        vx_json_kv_uint(j, "streams", st.streams);
        vx_json_kv_uint(j, "peers", st.peers);
        vx_json_kv_uint(j, "services", st.services);
        vx_json_obj_end(j);
        vx_json_key(j, "modules");
        vx_json_arr_begin(j);
        for (int i = 0; i < VX_SLOT_COUNT_; i++)
            if (d->mods[i].ops && d->mods[i].started)
                vx_json_str(j, d->mods[i].ops->name);
        vx_json_arr_end(j);
        module_status(d, r);
        vx_json_obj_end(j);
        return 0;
    }
    vx_ctl_reply_printf(r, "vx6d %s, pid %d, up %llus%s\n", PACKAGE_VERSION, (int)getpid(),
                        (unsigned long long)up, d->state == DS_STOPPING ? ", stopping" : "");
    vx_ctl_reply_printf(r, "node ID:    %s\n", d->node_id);
    if (d->cfg->user)
        vx_ctl_reply_printf(r, "user:       %s\n", d->cfg->user);
    vx_ctl_reply_printf(r, "config:     %s\n",
                        d->config_path ? d->config_path : "(none: built-in defaults)");
    vx_ctl_reply_printf(r, "data dir:   %s\n", d->cfg->data_dir);
    vx_ctl_reply_printf(r, "log level:  %s\n", d->log_spec);
    vx_ctl_reply_printf(r, "listeners:\n");
    for (size_t i = 0; i < nl; i++)
        vx_ctl_reply_printf(r, "  %-8s %s (%s)%s%s\n", ls[i].role, ls[i].addr, ls[i].protocols,
                            ls[i].active ? "" : " - ", ls[i].active ? "" : inactive_reason(&ls[i]));
    vx_ctl_reply_printf(r,
                        "sessions:   %llu\nstreams:    %llu\npeers:      %llu\nservices:   %llu\n",
                        (unsigned long long)st.sessions, (unsigned long long)st.streams,
                        (unsigned long long)st.peers, (unsigned long long)st.services);
    module_status(d, r);
    return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int cmd_id(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_daemon *d = arg;
    char pk[2 * VX_PK_LEN + 1];

    hex(d->id.pk, VX_PK_LEN, pk);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "node_id", d->node_id);
        vx_json_kv_str(j, "public_key", pk);
        vx_json_obj_end(j);
        return 0;
    }
    vx_ctl_reply_printf(r, "node ID:    %s\npublic key: %s\n", d->node_id, pk);
    return 0;
}

static int cmd_loglevel(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_daemon *d = arg;
    char old[sizeof(d->log_spec)];

    snprintf(old, sizeof(old), "%s", d->log_spec);
    if (req->argc == 1) {
        if (apply_log_spec(d, req->argv[0]) < 0)
            return vx_ctl_reply_error(r, VX_ERR_INVAL,
                                      "invalid log level '%s' (levels: debug, info, notice, "
                                      "warn, error; e.g. \"info,dht=debug\")",
                                      req->argv[0]);
        log_notice(LD_CONTROL, "log level changed from '%s' to '%s' (control socket)", old,
                   d->log_spec);
    }
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "log_level", d->log_spec);
        if (req->argc == 1)
            vx_json_kv_str(j, "previous", old);
        vx_json_obj_end(j);
    } else if (req->argc == 1)
        vx_ctl_reply_printf(r, "log level: %s (was %s)\n", d->log_spec, old);
    else
        vx_ctl_reply_printf(r, "log level: %s\n", d->log_spec);
    return 0;
}

static int cmd_reload(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_daemon *d = arg;
    char err[2048];
    int rc = vx_daemon_reload(d, err, sizeof(err));
    if (rc < 0) {
        /* first diagnostic on the status line; all of them are in the log */
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        return vx_ctl_reply_error(r, rc, "reload failed, running configuration kept: %s", err);
    }
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_bool(j, "reloaded", true);
        vx_json_kv_str(j, "config_file", d->config_path);
        vx_json_obj_end(j);
    } else
        vx_ctl_reply_printf(r, "configuration reloaded from %s\n",
                            d->config_path ? d->config_path : "built-in defaults");
    return 0;
}

static void deferred_stop_cb(struct ev_loop *loop, ev_timer *w, int revents);

static int cmd_stop(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_daemon *d = arg;
    /* Stop on the next loop turn so this reply goes out first. */
    if (d->state == DS_RUNNING && !ev_is_active(&d->stop_timer)) {
        ev_timer_init(&d->stop_timer, deferred_stop_cb, 0.01, 0.);
        d->stop_timer.data = d;
        ev_timer_start(d->loop, &d->stop_timer);
    }
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_bool(j, "stopping", true);
        vx_json_obj_end(j);
    } else
        vx_ctl_reply_printf(r, "vx6d is stopping\n");
    return 0;
}

static const struct vx_ctl_command builtin_cmds[] = {
        {"status", NULL, "node ID, uptime, config, listeners and counters", 0, 0, cmd_status},
        {"id", NULL, "this node's ID and public key", 0, 0, cmd_id},
        {"loglevel", "[SPEC]", "show or set the log level, e.g. \"info,dht=debug\"", 0, 1,
         cmd_loglevel},
        {"reload", NULL, "re-read the config file (like SIGHUP)", 0, 0, cmd_reload},
        {"stop", NULL, "stop the daemon gracefully (like SIGTERM)", 0, 0, cmd_stop},
};

/* ---- life cycle -------------------------------------------------------- */

struct vx_daemon *vx_daemon_new(struct vx_config *cfg, const char *config_path,
                                const char *log_override)
{
    struct vx_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->loop = ev_default_loop(EVFLAG_AUTO);
    if (!d->loop)
        abort();
    d->cfg = cfg;
    d->config_path = config_path ? xstrdup(config_path) : NULL;
    d->log_override = log_override ? xstrdup(log_override) : NULL;
    d->ctl = vx_control_new(d->loop);
    d->metrics = vx_metrics_new();
    d->state = DS_NEW;
    ev_timer_init(&d->stop_timer, deferred_stop_cb, 0., 0.);
    d->stop_timer.data = d;
    return d;
}

static void identity_error(const char *path, int rc)
{
    struct stat st;
    switch (rc) {
    case VX_ERR_PERM:
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            log_err(LD_GENERAL, "identity key %s is not a regular file; move it away", path);
        else
            log_err(LD_GENERAL,
                    "identity key %s is readable by other users (mode %03o); it is a secret "
                    "key: fix with 'chmod 600 %s' and start vx6d again",
                    path, stat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0u, path);
        break;
    case VX_ERR_CORRUPT:
        log_err(LD_GENERAL,
                "identity key %s is damaged (not a vx6 key file, or its check failed); vx6d will "
                "not replace it. Restore it from a backup, or move it away to make a new "
                "identity (this node's ID will change)",
                path);
        break;
    case VX_ERR_SYS:
        log_err(LD_GENERAL, "cannot read or create identity key %s: %s", path, strerror(errno));
        break;
    default:
        log_err(LD_GENERAL, "cannot load identity key %s: %s", path, vx_strerror(rc));
        break;
    }
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct vx_daemon *d = w->data;
    switch (w->signum) {
    case SIGHUP:
        log_notice(LD_GENERAL, "SIGHUP: reloading configuration");
        vx_daemon_reload(d, NULL, 0);
        break;
    case SIGTERM:
        vx_daemon_request_stop(d, "SIGTERM");
        break;
    case SIGINT:
        vx_daemon_request_stop(d, "SIGINT");
        break;
    default:
        break;
    }
}

static void log_summary(struct vx_daemon *d)
{
    struct listener_info ls[VX_CONFIG_MAX_LISTEN + 4];
    size_t nl = collect_listeners(d, ls, sizeof(ls) / sizeof(ls[0]));

    log_info(LD_GENERAL, "vx6d %s started (pid %d)", PACKAGE_VERSION, (int)getpid());
    log_info(LD_GENERAL, "node ID %s", d->node_id);
    log_info(LD_GENERAL, "config: %s",
             d->config_path ? d->config_path : "no config file, built-in defaults");
    log_info(LD_GENERAL, "data dir: %s", d->cfg->data_dir);
    for (size_t i = 0; i < nl; i++) {
        if (ls[i].active)
            log_info(LD_GENERAL, "listening: %s %s (%s)", ls[i].role, ls[i].addr, ls[i].protocols);
        else
            log_notice(LD_GENERAL, "configured %s %s (%s) is %s", ls[i].role, ls[i].addr,
                       ls[i].protocols, inactive_reason(&ls[i]));
    }
    log_info(LD_GENERAL, "log level: %s", d->log_spec);
}

int vx_daemon_start(struct vx_daemon *d)
{
    const char *why;
    struct stat st;
    int created = 0, rc;

    if (apply_log_spec(d, config_log_spec(d, d->cfg)) < 0) {
        log_err(LD_CONFIG, "invalid log level '%s'", config_log_spec(d, d->cfg));
        return VX_ERR_CONFIG;
    }

    /* data directory */
    rc = vx_mkdir_p(d->cfg->data_dir, 0700);
    if (rc < 0) {
        log_err(LD_GENERAL, "cannot create data directory %s: %s", d->cfg->data_dir,
                strerror(errno));
        return rc;
    }
    if (stat(d->cfg->data_dir, &st) == 0 && (st.st_mode & 0022))
        log_warn(LD_GENERAL,
                 "data directory %s is writable by other users (mode %03o); "
                 "fix with 'chmod 700 %s'",
                 d->cfg->data_dir, (unsigned)(st.st_mode & 0777), d->cfg->data_dir);

    /* identity */
    if (vx_path_join(d->key_path, sizeof(d->key_path), d->cfg->data_dir, VX_IDENTITY_FILENAME) <
        0) {
        log_err(LD_GENERAL, "data directory path too long: %s", d->cfg->data_dir);
        return VX_ERR_TOOBIG;
    }
    rc = vx_identity_load_or_create(&d->id, d->key_path, &created);
    if (rc < 0) {
        identity_error(d->key_path, rc);
        return rc;
    }
    vx_node_id_to_str(d->id.node_id, d->node_id, sizeof(d->node_id));
    if (created)
        log_notice(LD_GENERAL, "created a new identity in %s", d->key_path);

    /* control socket */
    rc = vx_control_listen(d->ctl, d->cfg->control_socket, &why);
    if (rc < 0) {
        if (rc == VX_ERR_SYS)
            log_err(LD_CONTROL, "cannot open control socket %s: %s: %s", d->cfg->control_socket,
                    why, strerror(errno));
        else
            log_err(LD_CONTROL, "cannot open control socket %s: %s", d->cfg->control_socket, why);
        return rc;
    }
    for (size_t i = 0; i < sizeof(builtin_cmds) / sizeof(builtin_cmds[0]); i++)
        vx_control_register(d->ctl, &builtin_cmds[i], d);

    /* modules, lowest layer first */
    d->started_ms = vx_time_mono_ms();
    for (int i = 0; i < VX_SLOT_COUNT_; i++) {
        struct module *m = &d->mods[i];
        if (!m->ops)
            continue;
        rc = m->ops->start(d, m->arg);
        if (rc < 0) {
            log_err(LD_GENERAL, "%s (%s) failed to start: %s", m->ops->name, slot_names[i],
                    vx_strerror(rc));
            return rc;
        }
        m->started = true;
        log_debug(LD_GENERAL, "module %s started", m->ops->name);
    }

    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&d->sig_term, signal_cb, SIGTERM);
    ev_signal_init(&d->sig_int, signal_cb, SIGINT);
    ev_signal_init(&d->sig_hup, signal_cb, SIGHUP);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    ev_signal_start(d->loop, &d->sig_term);
    ev_signal_start(d->loop, &d->sig_int);
    ev_signal_start(d->loop, &d->sig_hup);

    d->state = DS_RUNNING;
    log_summary(d);
    emit(d, VX_DAEMON_EV_READY);
    return 0;
}

int vx_daemon_run(struct vx_daemon *d)
{
    if (d->state != DS_RUNNING)
        return VX_ERR_INVAL;
    ev_run(d->loop, 0);
    d->state = DS_DONE;
    log_info(LD_GENERAL, "vx6d stopped");
    return 0;
}

static size_t busy_count(const struct vx_daemon *d)
{
    size_t n = vx_control_n_clients(d->ctl);
    for (int i = 0; i < VX_SLOT_COUNT_; i++)
        if (d->mods[i].started && d->mods[i].ops->busy)
            n += d->mods[i].ops->busy(d->mods[i].arg);
    return n;
}

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_daemon *d = w->data;
    size_t busy = busy_count(d);
    if (busy == 0 || vx_time_mono_ms() >= d->stop_deadline_ms) {
        if (busy)
            log_notice(LD_GENERAL, "closing %zu connection%s that did not finish in time", busy,
                       busy == 1 ? "" : "s");
        ev_timer_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
    }
}

static void deferred_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    vx_daemon_request_stop(w->data, "requested over the control socket");
}

void vx_daemon_request_stop(struct vx_daemon *d, const char *reason)
{
    if (d->state == DS_STOPPING) {
        log_notice(LD_GENERAL, "%s again: stopping now", reason);
        ev_break(d->loop, EVBREAK_ALL);
        return;
    }
    if (d->state != DS_RUNNING)
        return;
    d->state = DS_STOPPING;
    d->stop_reason = reason;
    log_notice(LD_GENERAL, "stopping (%s)", reason);
    emit(d, VX_DAEMON_EV_STOPPING);
    vx_control_close_listener(d->ctl);
    for (int i = VX_SLOT_COUNT_ - 1; i >= 0; i--)
        if (d->mods[i].started && d->mods[i].ops->stop)
            d->mods[i].ops->stop(d->mods[i].arg);
    ev_signal_stop(d->loop, &d->sig_hup);
    d->stop_deadline_ms = vx_time_mono_ms() + VX_DAEMON_GRACE_MS;
    ev_timer_stop(d->loop, &d->stop_timer);
    ev_timer_init(&d->stop_timer, drain_cb, 0., 0.05);
    d->stop_timer.data = d;
    ev_timer_start(d->loop, &d->stop_timer);
}

/* ---- reload ------------------------------------------------------------ */

static bool addr_lists_equal(const struct vx_addr *a, size_t na, const struct vx_addr *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (vx_addr_cmp((const struct sockaddr *)&a[i].ss, (const struct sockaddr *)&b[i].ss))
            return false;
    return true;
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Log what differs between o and n.  Settings that no module applies yet
 * need a restart; say so. */
static void log_changes(const struct vx_daemon *d, const struct vx_config *o,
                        const struct vx_config *n)
{
    int changes = 0;
#define RESTART(what)                                                                              \
    do {                                                                                           \
        log_notice(LD_CONFIG, "%s changed; restart vx6d to apply it", what);                       \
        changes++;                                                                                 \
    } while (0)

    if (!str_eq(o->log_level, n->log_level)) {
        log_notice(LD_CONFIG, "log_level changed from '%s' to '%s'%s", o->log_level, n->log_level,
                   d->log_override ? " (ignored: vx6d runs with -d)" : "");
        changes++;
    } else if (strcmp(d->log_spec, config_log_spec(d, n)) != 0) {
        log_notice(LD_CONFIG, "log level set at run time ('%s') reset to '%s' from the config",
                   d->log_spec, config_log_spec(d, n));
        changes++;
    }
    if (!str_eq(o->data_dir, n->data_dir))
        RESTART("data_dir");
    if (!str_eq(o->control_socket, n->control_socket))
        RESTART("control_socket");
    if (!str_eq(o->user, n->user)) {
        log_notice(LD_CONFIG, "user changed from %s to %s", o->user ? o->user : "(none)",
                   n->user ? n->user : "(none)");
        changes++;
    }
    if (!addr_lists_equal(o->listen, o->n_listen, n->listen, n->n_listen) &&
        !d->mods[VX_SLOT_TRANSPORT].ops)
        RESTART("listen");
    if (o->transport != n->transport && !d->mods[VX_SLOT_TRANSPORT].ops)
        RESTART("transport");
    if ((o->socks_enabled != n->socks_enabled ||
         (n->socks_enabled && vx_addr_cmp((const struct sockaddr *)&o->socks.ss,
                                          (const struct sockaddr *)&n->socks.ss))) &&
        !d->mods[VX_SLOT_FRONT].ops)
        RESTART("socks");
    if (o->n_services != n->n_services)
        log_notice(LD_CONFIG, "services: %zu configured (was %zu)", n->n_services, o->n_services),
                changes++;
    if (o->n_bootstrap != n->n_bootstrap)
        log_notice(LD_CONFIG, "bootstrap: %zu peers (was %zu)", n->n_bootstrap, o->n_bootstrap),
                changes++;
    if (!changes)
        log_info(LD_CONFIG,
                 "configuration reloaded: no changes to the settings this daemon applies");
#undef RESTART
}

static int reload(struct vx_daemon *d, char *err, size_t errlen);

int vx_daemon_reload(struct vx_daemon *d, char *err, size_t errlen)
{
    emit(d, VX_DAEMON_EV_RELOADING);
    int rc = reload(d, err, errlen);
    emit(d, VX_DAEMON_EV_RELOADED);
    return rc;
}

static int reload(struct vx_daemon *d, char *err, size_t errlen)
{
    char diag[4096];
    struct vx_config *n = NULL, *old;
    int rc;

    diag[0] = '\0';
    if (d->config_path)
        rc = vx_config_load(d->config_path, &n, diag, sizeof(diag));
    else {
        n = vx_config_new_default();
        rc = vx_config_validate(n, diag, sizeof(diag));
    }
    if (rc == 0) {
        const char *spec = config_log_spec(d, n);
        if (vx_log_configure(spec) < 0) {
            snprintf(diag, sizeof(diag), "log_level: invalid log level '%s'", spec);
            rc = VX_ERR_CONFIG;
        } else
            vx_log_configure(d->log_spec); /* only checked; applied after the swap */
    }
    for (int i = 0; rc == 0 && i < VX_SLOT_COUNT_; i++) {
        struct module *m = &d->mods[i];
        if (m->started && m->ops->check_config)
            rc = m->ops->check_config(n, diag, sizeof(diag), m->arg);
    }
    if (rc < 0) {
        size_t l = strlen(diag);
        while (l && diag[l - 1] == '\n')
            diag[--l] = '\0';
        log_err(LD_CONFIG, "reload failed, keeping the running configuration:\n%s",
                diag[0] ? diag : vx_strerror(rc));
        if (err && errlen)
            snprintf(err, errlen, "%s", diag[0] ? diag : vx_strerror(rc));
        vx_config_free(n);
        return rc;
    }
    old = d->cfg;
    d->cfg = n;
    log_changes(d, old, n);
    apply_log_spec(d, config_log_spec(d, n));
    for (int i = 0; i < VX_SLOT_COUNT_; i++) {
        struct module *m = &d->mods[i];
        if (m->started && m->ops->apply_config)
            m->ops->apply_config(d, old, n, m->arg);
    }
    vx_config_free(old);
    log_info(LD_CONFIG, "configuration reloaded from %s",
             d->config_path ? d->config_path : "built-in defaults");
    return 0;
}

void vx_daemon_free(struct vx_daemon *d)
{
    if (!d)
        return;
    vx_control_close_listener(d->ctl);
    for (int i = VX_SLOT_COUNT_ - 1; i >= 0; i--) {
        struct module *m = &d->mods[i];
        if (!m->ops)
            continue;
        if (m->started && m->ops->stop && d->state == DS_RUNNING)
            m->ops->stop(m->arg);
        if (m->ops->free)
            m->ops->free(m->arg);
    }
    vx_control_free(d->ctl);
    vx_metrics_free(d->metrics);
    ev_signal_stop(d->loop, &d->sig_term);
    ev_signal_stop(d->loop, &d->sig_int);
    ev_signal_stop(d->loop, &d->sig_hup);
    ev_timer_stop(d->loop, &d->stop_timer);
    vx_identity_wipe(&d->id);
    vx_config_free(d->cfg);
    free(d->config_path);
    free(d->log_override);
    free(d);
}
