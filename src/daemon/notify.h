/* notify.h — vx6d's systemd integration (Type=notify).
 *
 * Follows the daemon's life-cycle events (vx_daemon_on_event) and tells
 * systemd through lib/sdnotify: READY=1 with a STATUS= line once
 * vx_daemon_start() has the identity, control socket and listeners up;
 * RELOADING=1 then READY=1 around each reload (SIGHUP or `vx6 reload`);
 * STOPPING=1 when a graceful stop begins.  STATUS= is refreshed every
 * VX_NOTIFY_STATUS_SECS with the session and stream counts.  When systemd
 * sets WATCHDOG_USEC, WATCHDOG=1 is sent every half interval from the
 * event loop, starting at READY.  Without NOTIFY_SOCKET all of this is a
 * no-op.
 */
#ifndef VX6_DAEMON_NOTIFY_H
#define VX6_DAEMON_NOTIFY_H

struct vx_daemon;
struct vx_notify;

#define VX_NOTIFY_STATUS_SECS 10.0

/* Subscribe to d's events (call before vx_daemon_start()).  Never NULL. */
struct vx_notify *vx_notify_new(struct vx_daemon *d);
/* Stop the watchdog and status timers.  Call after vx_daemon_free() or
 * before it; accepts NULL. */
void vx_notify_free(struct vx_notify *n);

#endif
