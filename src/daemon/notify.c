/* notify.c — systemd readiness, reload, stop and watchdog notifications
 * for vx6d.  See notify.h. */
#include "daemon/notify.h"
#include "daemon/daemon.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/sdnotify.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

struct vx_notify {
    struct vx_daemon *d;
    struct ev_loop *loop;
    struct vx_sdnotify_watchdog *wd;
    ev_timer status_timer;
    int warned;
};

static void status_line(struct vx_notify *n, char *buf, size_t len)
{
    struct vx_daemon_stats st;
    vx_daemon_stats(n->d, &st);
    snprintf(buf, len, "running: %llu session%s, %llu stream%s, %llu peer%s",
             (unsigned long long)st.sessions, st.sessions == 1 ? "" : "s",
             (unsigned long long)st.streams, st.streams == 1 ? "" : "s",
             (unsigned long long)st.peers, st.peers == 1 ? "" : "s");
}

static void check(struct vx_notify *n, int rc)
{
    if (rc < 0 && !n->warned) {
        n->warned = 1;
        log_warn(LD_GENERAL, "cannot notify systemd through NOTIFY_SOCKET: %s", vx_strerror(rc));
    }
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_notify *n = w->data;
    char buf[160];
    status_line(n, buf, sizeof(buf));
    check(n, vx_sdnotify_status("%s", buf));
}

static void event_cb(struct vx_daemon *d, enum vx_daemon_event ev, void *arg)
{
    struct vx_notify *n = arg;
    char buf[160];

    switch (ev) {
    case VX_DAEMON_EV_READY:
        status_line(n, buf, sizeof(buf));
        check(n, vx_sdnotify_ready(buf));
        if (!n->wd)
            n->wd = vx_sdnotify_watchdog_start(n->loop);
        ev_timer_again(n->loop, &n->status_timer);
        break;
    case VX_DAEMON_EV_RELOADING:
        check(n, vx_sdnotify_reloading());
        break;
    case VX_DAEMON_EV_RELOADED:
        status_line(n, buf, sizeof(buf));
        check(n, vx_sdnotify_ready(buf));
        break;
    case VX_DAEMON_EV_STOPPING:
        ev_timer_stop(n->loop, &n->status_timer);
        check(n, vx_sdnotify("STOPPING=1\nSTATUS=stopping: closing connections"));
        break;
    }
}

struct vx_notify *vx_notify_new(struct vx_daemon *d)
{
    struct vx_notify *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->d = d;
    n->loop = vx_daemon_loop(d);
    ev_init(&n->status_timer, status_cb);
    n->status_timer.repeat = VX_NOTIFY_STATUS_SECS;
    n->status_timer.data = n;
    if (vx_daemon_on_event(d, event_cb, n) < 0)
        log_warn(LD_GENERAL, "systemd notifications disabled: too many event listeners");
    return n;
}

void vx_notify_free(struct vx_notify *n)
{
    if (!n)
        return;
    ev_timer_stop(n->loop, &n->status_timer);
    vx_sdnotify_watchdog_stop(n->wd);
    free(n);
}
