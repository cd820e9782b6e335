/* sdnotify.h — systemd readiness and watchdog notifications, no libsystemd.
 *
 * Each message is one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a path, or "@name" for an abstract socket), as sd_notify(3) sends it.
 * When $NOTIFY_SOCKET is unset or empty every call is a no-op returning 0,
 * so the daemon calls these unconditionally.  Errors are VX_ERR_INVAL (the
 * variable names no usable socket) or VX_ERR_SYS (errno set).
 *
 * With Type=notify the daemon sends vx_sdnotify_ready() once it listens,
 * vx_sdnotify_reloading() when it starts a configuration reload (and
 * vx_sdnotify_ready() again when done; this satisfies Type=notify-reload),
 * vx_sdnotify_stopping() when shutdown begins.  With WatchdogSec= set,
 * systemd passes $WATCHDOG_USEC (and $WATCHDOG_PID); vx_sdnotify_watchdog_start()
 * then sends WATCHDOG=1 from the event loop every half interval, so a
 * wedged loop gets the service restarted.
 */
#ifndef VX6_LIB_SDNOTIFY_H
#define VX6_LIB_SDNOTIFY_H

#include <stdint.h>

struct ev_loop;
struct vx_sdnotify_watchdog;

/* Send `msg` verbatim (newline-separated VAR=value assignments). */
int vx_sdnotify(const char *msg);

/* "READY=1", plus "STATUS=<status>" when status is not NULL. */
int vx_sdnotify_ready(const char *status);
/* "STATUS=<printf result>": a one-line state shown by systemctl status. */
int vx_sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "STOPPING=1". */
int vx_sdnotify_stopping(void);
/* "RELOADING=1" and "MONOTONIC_USEC=<CLOCK_MONOTONIC in us>". */
int vx_sdnotify_reloading(void);
/* "WATCHDOG=1". */
int vx_sdnotify_watchdog_ping(void);

/* The watchdog interval systemd asked for, in microseconds, or 0 if the
 * watchdog is off: $WATCHDOG_USEC unset/invalid, or $WATCHDOG_PID set to a
 * process other than this one. */
uint64_t vx_sdnotify_watchdog_usec(void);

/* Start a timer on `loop` that pings every half interval (first ping half
 * an interval from now).  The timer does not keep ev_run() alive on its
 * own.  Returns NULL when the watchdog is off (vx_sdnotify_watchdog_usec()
 * is 0); stop with vx_sdnotify_watchdog_stop(), which accepts NULL. */
struct vx_sdnotify_watchdog *vx_sdnotify_watchdog_start(struct ev_loop *loop);
void vx_sdnotify_watchdog_stop(struct vx_sdnotify_watchdog *wd);

#endif
