/* disco_path.h — discovery as the path layer's named-mode resolver.
 *
 * vx_discovery_path_resolver implements struct vx_path_resolver (path/path.h)
 * on vx_discovery_resolve(): USER.SERVICE -> the node ID, its endpoints
 * (IPv6 first) and how they were found.  rarg is the struct vx_discovery.
 *
 * In vx6d the gateway (VX_SLOT_TRANSPORT) starts first; then
 *
 *     vx_discovery_use_gateway(ds, gwm);   before vx_daemon_start()
 *
 * makes the discovery module, when it starts, share the QUIC listener's UDP
 * socket for the DHT (datagrams without the QUIC fixed bit go to the DHT)
 * and attach the gateway's path and transport as below.  On reload the
 * gateway's apply_config (lower slot) resets the path's aliases from the
 * config and ours (after it) adds the registry's again.
 */
#ifndef VX6_DAEMON_DISCO_PATH_H
#define VX6_DAEMON_DISCO_PATH_H

#include "daemon/discovery.h"
#include "daemon/gatewaymod.h"
#include "path/path.h"
#include "transport/transport.h"

extern const struct vx_path_resolver vx_discovery_path_resolver;

/* Set p's resolver to ds, p's aliases to the config's and the registry's
 * (and keep them current when `vx6 alias` changes them), and make address
 * changes rebind t (QUIC connection migration; t may be NULL).  Works
 * before or after the discovery module started.  Undo with p == NULL
 * before freeing the path. */
void vx_discovery_attach_path(struct vx_discovery *ds, struct vx_path *p, struct vx_transport *t);
/* Wire ds to the gateway module m at start (see above). */
void vx_discovery_use_gateway(struct vx_discovery *ds, struct vx_gatewaymod *m);
/* Rebuild the attached path's alias table.  0, or VX_ERR_INVAL from
 * vx_path_set_aliases() (a bad alias is logged and the table kept). */
int vx_discovery_apply_aliases(struct vx_discovery *ds);

#endif
