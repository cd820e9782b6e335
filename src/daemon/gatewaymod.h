/* gatewaymod.h — the data plane (daemon/gateway.h) as vx6d modules.
 *
 * Two modules share one struct vx_gateway:
 *   "gateway" in VX_SLOT_TRANSPORT creates it on start (node listeners on the
 *   configured transport, published services, path layer, SOCKS/HTTP front
 *   and configured forwards), applies reloads, counts sessions, streams and
 *   services, and answers `services`;
 *   "front" in VX_SLOT_FRONT marks the SOCKS listener as served and answers
 *   `forwards`, `connect` and `disconnect` (forwards made at run time).
 */
#ifndef VX6_DAEMON_GATEWAYMOD_H
#define VX6_DAEMON_GATEWAYMOD_H

#include "daemon/daemon.h"

struct vx_gatewaymod;

extern const struct vx_daemon_module_ops vx_gatewaymod_ops;
extern const struct vx_daemon_module_ops vx_gatewaymod_front_ops;

/* Never returns NULL.  Register it twice: vx_gatewaymod_ops in
 * VX_SLOT_TRANSPORT and vx_gatewaymod_front_ops in VX_SLOT_FRONT, with the
 * same pointer; it is freed once. */
struct vx_gatewaymod *vx_gatewaymod_new(void);

/* The running gateway (NULL before start), for other modules. */
struct vx_gateway *vx_gatewaymod_gateway(const struct vx_gatewaymod *m);

#endif
