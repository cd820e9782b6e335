/* pathmod.h — relay circuits and hidden services in vx6d (slot VX_SLOT_PATH).
 *
 * start:  on the gateway's transport (the module in VX_SLOT_TRANSPORT) it
 *         creates the node's struct vx_relay (`relay: true|false` turns
 *         relaying for others on or off; this node always builds its own
 *         circuits and answers as a destination) and installs the accept
 *         dispatcher: VX_TARGET_RELAY streams go to vx_relay_accept(), the
 *         others to the published services.  The path layer gets the relay
 *         (route relay and auto, `relay_hops` hops by default) and a key hook
 *         that finds a destination's Ed25519 key in the registry's NODE
 *         records.  With the discovery module (VX_SLOT_DHT) running it also
 *         creates one hidden-service connector (ADDRESS.vx6 through the path
 *         layer) and one vx_hs_serve() per `hidden: true` service, with the
 *         key DATA_DIR/hidden/NAME.key (created on first use).
 * timers: the relay pool (the candidates circuits are built from) is
 *         refreshed from the registry's best peers, every 2 s while it is
 *         small and every 15 s after; routing-table contacts without a NODE
 *         record in the registry are looked up so that they can join it.
 *         Hidden services start once the pool can hold their intro points
 *         (or after PATHMOD_HS_WAIT_S).
 * control: `hidden status` (vx6 hidden status [--json]).
 * stop:   services, then (the DHT is freed by its module after this one)
 *         the connector, then the relay — path requests still building a
 *         circuit or rendezvous fail with VX_ERR_CLOSED first.
 */
#ifndef VX6_DAEMON_PATHMOD_H
#define VX6_DAEMON_PATHMOD_H

#include "daemon/daemon.h"

#define PATHMOD_POOL_MAX  128
#define PATHMOD_HS_WAIT_S 20

struct vx_pathmod;

extern const struct vx_daemon_module_ops vx_pathmod_ops;

/* Never NULL.  Freed by the module's free hook. */
struct vx_pathmod *vx_pathmod_new(void);

/* For other modules (NULL before start). */
struct vx_relay *vx_pathmod_relay(const struct vx_pathmod *m);

#endif
