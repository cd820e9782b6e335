/* daemon.h — vx6d's core: the composition root.
 *
 * A struct vx_daemon owns the event loop, the effective configuration, the
 * node identity, the control socket and one module per slot.  Modules are
 * the layers that do the real work (transport, DHT, path, service side,
 * SOCKS/HTTP front-end, metrics, XDP); each plugs in through a small
 * vtable, struct vx_daemon_module_ops, into its fixed slot:
 *
 *     d = vx_daemon_new(cfg, path, NULL);
 *     vx_daemon_set_module(d, VX_SLOT_TRANSPORT, &tcp_transport_ops, t);
 *     ...
 *     if (vx_daemon_start(d) == 0) vx_daemon_run(d);
 *     vx_daemon_free(d);
 *
 * Order: vx_daemon_start() creates the data directory and the identity,
 * opens the control socket and then starts the modules in slot order (lower
 * layers first: a module may look up the ones below it with
 * vx_daemon_module()).  On stop they are stopped and freed in reverse order.
 *
 * Reload (SIGHUP or `vx6 reload`): the file is parsed and validated; every
 * module's check_config() may veto it; only then is the new config swapped
 * in and each module's apply_config() called with (old, new).  On any
 * failure the running configuration stays and the reason is logged.
 *
 * Signals: SIGTERM/SIGINT stop gracefully (listener closed and control
 * socket removed at once; open connections get up to VX_DAEMON_GRACE_MS);
 * a second signal stops at once.  SIGHUP reloads.  SIGPIPE is ignored.
 */
#ifndef VX6_DAEMON_DAEMON_H
#define VX6_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "daemon/config.h"
#include "daemon/control.h"

struct ev_loop;
struct sockaddr;
struct vx_daemon;
struct vx_metrics;

#define VX_DAEMON_GRACE_MS   1500 /* how long a graceful stop waits for connections */
#define VX_IDENTITY_FILENAME "identity.key"

/* Module slots, in start order (a layer never depends on a higher one). */
enum vx_daemon_slot {
    VX_SLOT_XDP = 0,   /* XDP classifier on the node port */
    VX_SLOT_TRANSPORT, /* node listeners: TCP + Noise / QUIC sessions */
    VX_SLOT_DHT,       /* Kademlia over UDP, registry */
    VX_SLOT_PATH,      /* direct, relay and hidden-service paths */
    VX_SLOT_SERVICE,   /* reverse side: streams into published localhost services */
    VX_SLOT_FRONT,     /* SOCKS5 / HTTP CONNECT / PAC / local forwards */
    VX_SLOT_METRICS,   /* metrics endpoint */
    VX_SLOT_COUNT_
};

/* "transport", "front", ... */
const char *vx_daemon_slot_name(enum vx_daemon_slot slot);

/* Counters shown by `vx6 status`; each module's stats() adds its own. */
struct vx_daemon_stats {
    uint64_t sessions; /* authenticated sessions to other nodes */
    uint64_t streams;  /* open streams over them */
    uint64_t peers;    /* known peers (routing table) */
    uint64_t services; /* published services */
};

/* A module's hooks.  Every pointer but name and start may be NULL.  arg is
 * the module's own state, passed back to each hook. */
struct vx_daemon_module_ops {
    const char *name;
    /* Open listeners, register control commands.  Runs after the identity
     * and control socket exist.  0 or VX_ERR_* (the daemon then exits). */
    int (*start)(struct vx_daemon *d, void *arg);
    /* Veto a reloaded config this module cannot apply: VX_ERR_CONFIG and a
     * message in err.  Must not change anything. */
    int (*check_config)(const struct vx_config *new_cfg, char *err, size_t errlen, void *arg);
    /* Apply a new config (already validated and swapped in). */
    void (*apply_config)(struct vx_daemon *d, const struct vx_config *old_cfg,
                         const struct vx_config *new_cfg, void *arg);
    /* Add this module's counters. */
    void (*stats)(struct vx_daemon_stats *st, void *arg);
    /* Stop accepting and begin closing connections (graceful stop). */
    void (*stop)(void *arg);
    /* Connections still draining after stop(); the daemon waits until all
     * modules report 0 or VX_DAEMON_GRACE_MS passed. */
    size_t (*busy)(void *arg);
    /* Release everything (watchers stopped, sockets closed).  Also called
     * for modules that were never started. */
    void (*free)(void *arg);
    /* Add a section to `vx6 status`: in JSON mode one key and its value
     * (the reply is inside the status object), else text lines. */
    void (*status)(struct vx_ctl_reply *r, void *arg);
};

/* A daemon on cfg (ownership passes to the daemon).  config_path is the file
 * cfg came from (reloads re-read it), NULL when running on built-in
 * defaults.  log_override, when not NULL (vx6d -d: "debug"), wins over
 * cfg->log_level, also across reloads.  Never NULL. */
struct vx_daemon *vx_daemon_new(struct vx_config *cfg, const char *config_path,
                                const char *log_override);
/* Stops and frees modules, closes the control socket.  Accepts NULL. */
void vx_daemon_free(struct vx_daemon *d);

/* Plug a module into its slot (before vx_daemon_start()).  0, VX_ERR_EXISTS
 * if the slot is taken, VX_ERR_INVAL for a bad slot or ops without name or
 * start. */
int vx_daemon_set_module(struct vx_daemon *d, enum vx_daemon_slot slot,
                         const struct vx_daemon_module_ops *ops, void *arg);
/* The arg of the module in slot, or NULL when the slot is empty. */
void *vx_daemon_module(const struct vx_daemon *d, enum vx_daemon_slot slot);

/* Data directory, identity, control socket, built-in commands, modules,
 * signal handlers; then logs the startup summary.  0 or VX_ERR_*; a failure
 * has been logged with what to do about it. */
int vx_daemon_start(struct vx_daemon *d);
/* Run the loop until stopped.  Returns 0. */
int vx_daemon_run(struct vx_daemon *d);
/* Begin a graceful stop (what SIGTERM does).  reason is logged. */
void vx_daemon_request_stop(struct vx_daemon *d, const char *reason);
/* Re-read the config file (what SIGHUP does).  0, or the error that kept
 * the old config (logged, and described in err if err is not NULL). */
int vx_daemon_reload(struct vx_daemon *d, char *err, size_t errlen);

struct ev_loop *vx_daemon_loop(const struct vx_daemon *d);
const struct vx_config *vx_daemon_config(const struct vx_daemon *d);
const struct vx_identity *vx_daemon_identity(const struct vx_daemon *d);
struct vx_control *vx_daemon_control(const struct vx_daemon *d);
/* The log spec in force ("info,dht=debug"). */
const char *vx_daemon_log_spec(const struct vx_daemon *d);
/* Sum of every module's counters. */
void vx_daemon_stats(const struct vx_daemon *d, struct vx_daemon_stats *st);

/* ---- objects modules share, metrics, events ---------------------------
 *
 * A module that owns one of the node's core objects publishes it so others
 * (metrics, XDP blocklist feed) can read its stats without knowing the
 * owning module's type:
 *
 *     vx_daemon_publish(d, VX_OBJ_TRANSPORT, t);     in the owner's start()
 *     vx_daemon_publish(d, VX_OBJ_TRANSPORT, NULL);  before freeing t
 *
 * Publishing a transport also installs the daemon's handshake-failure hook
 * on it (vx_transport_set_handshake_fail): failures are counted in
 * vx6_errors_total{reason="handshake"} and passed to the function set with
 * vx_daemon_set_handshake_fail_hook() (the XDP module's blocklist feed).
 */
enum vx_daemon_obj {
    VX_OBJ_TRANSPORT = 0, /* struct vx_transport * (node sessions) */
    VX_OBJ_DHT,           /* struct vx_dht * */
    VX_OBJ_RELAY,         /* struct vx_relay * (relay circuits, path/circuit.h) */
    VX_OBJ_SERVICES,      /* struct vx_services * */
    VX_OBJ_PATH,          /* struct vx_path * (path/path.h) */
    VX_OBJ_FRONT,         /* struct vx_front * (front/front.h) */
    VX_OBJ_HIDDEN,        /* hidden-service module, when built in */
    VX_OBJ_COUNT_
};
void vx_daemon_publish(struct vx_daemon *d, enum vx_daemon_obj what, void *obj);
/* The published object, or NULL. */
void *vx_daemon_lookup(const struct vx_daemon *d, enum vx_daemon_obj what);

/* The daemon's metrics registry.  It exists from vx_daemon_new() on, so any
 * module may register series and collectors in start(); the metrics module
 * only serves it over HTTP.  Never NULL. */
struct vx_metrics *vx_daemon_metrics(const struct vx_daemon *d);
/* vx6_errors_total{reason} += 1.  reason: a short snake_case word
 * ("handshake", "stream_refused", "dht_timeout", ...). */
void vx_daemon_count_error(struct vx_daemon *d, const char *reason);
/* vx6_limit_hits_total{limit} += 1 ("max_connections", "handshake_timeout",
 * "dht_rate", ...). */
void vx_daemon_count_limit(struct vx_daemon *d, const char *limit);

typedef void (*vx_daemon_hsfail_fn)(const struct sockaddr *sa, unsigned salen, int err, void *arg);
/* At most one hook; fn NULL removes it. */
void vx_daemon_set_handshake_fail_hook(struct vx_daemon *d, vx_daemon_hsfail_fn fn, void *arg);

/* Life-cycle events, for the systemd notifier and the like. */
enum vx_daemon_event {
    VX_DAEMON_EV_READY = 0, /* vx_daemon_start() succeeded: listeners are up */
    VX_DAEMON_EV_RELOADING, /* a reload begins */
    VX_DAEMON_EV_RELOADED,  /* a reload ended (applied or refused) */
    VX_DAEMON_EV_STOPPING   /* a graceful stop begins */
};
typedef void (*vx_daemon_event_fn)(struct vx_daemon *d, enum vx_daemon_event ev, void *arg);
/* At most 4 listeners.  0 or VX_ERR_LIMIT. */
int vx_daemon_on_event(struct vx_daemon *d, vx_daemon_event_fn fn, void *arg);

#endif
