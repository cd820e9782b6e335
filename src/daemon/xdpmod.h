/* xdpmod.h — vx6d's XDP module (slot VX_SLOT_XDP).
 *
 * When the config has `xdp: {interface, mode, udp_rate, udp_burst}` the
 * module attaches the classifier (daemon/xdp.h) at start, with the node
 * port taken from the first `listen` address.  If it cannot (built without
 * XDP, no CAP_NET_ADMIN/CAP_BPF, no such interface, native mode unsupported
 * by the driver) it logs why and what to do, and the daemon runs normally
 * without it.  The program is detached when the daemon stops.
 *
 * Blocklist feed: the daemon passes every failed session handshake from a
 * peer (vx_daemon_set_handshake_fail_hook); malformed or unauthenticated
 * handshakes and handshake timeouts count, a peer that merely closed the
 * connection (health checks, port probes) does not.  A source prefix (IPv6
 * /64, IPv4 address) with VX_XDPMOD_FAIL_MAX failures within
 * VX_XDPMOD_FAIL_WINDOW_MS is blocked in XDP for VX_XDPMOD_BLOCK_MS, then
 * unblocked.
 *
 * Control commands: ebpf-status, ebpf-attach [IFACE] [native|generic],
 * ebpf-detach (`vx6 ebpf ...`); an "xdp" section in `vx6 status`; metrics
 * vx6_xdp_* in the daemon's registry.
 */
#ifndef VX6_DAEMON_XDPMOD_H
#define VX6_DAEMON_XDPMOD_H

#include "daemon/daemon.h"

#define VX_XDPMOD_FAIL_MAX       10
#define VX_XDPMOD_FAIL_WINDOW_MS 60000
#define VX_XDPMOD_BLOCK_MS       600000
#define VX_XDPMOD_TRACKED        1024 /* source prefixes tracked for failures */
#define VX_XDPMOD_MAX_AUTOBLOCK  4096 /* prefixes blocked automatically at once */

struct vx_xdpmod;

extern const struct vx_daemon_module_ops vx_xdpmod_ops;

/* Never NULL.  Register with vx_daemon_set_module(d, VX_SLOT_XDP,
 * &vx_xdpmod_ops, m); the daemon frees it. */
struct vx_xdpmod *vx_xdpmod_new(void);

#endif
