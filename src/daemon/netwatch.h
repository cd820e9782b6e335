/* netwatch.h — notice when the host's IP addresses change.
 *
 * A NETLINK_ROUTE socket subscribed to RTMGRP_IPV4_IFADDR and
 * RTMGRP_IPV6_IFADDR, read by one ev_io on the daemon's loop.  Address
 * messages (RTM_NEWADDR, RTM_DELADDR) arm a debounce timer; when it fires
 * (debounce_ms after the last message, so that "add NEW; del OLD" becomes
 * one event) changed(arg) runs.  The callee recomputes what it needs; the
 * watcher carries no address list of its own.
 */
#ifndef VX6_DAEMON_NETWATCH_H
#define VX6_DAEMON_NETWATCH_H

struct ev_loop;
struct vx_netwatch;

#define VX_NETWATCH_DEBOUNCE_MS 1000

/* Open the netlink socket and start watching.  0 with *out set, or
 * VX_ERR_SYS (errno set: no netlink here). */
int vx_netwatch_new(struct ev_loop *loop, unsigned debounce_ms, void (*changed)(void *arg),
                    void *arg, struct vx_netwatch **out);
/* Stop and close.  Accepts NULL. */
void vx_netwatch_free(struct vx_netwatch *nw);
/* Address messages seen so far (for tests and status). */
unsigned long vx_netwatch_events(const struct vx_netwatch *nw);

#endif
