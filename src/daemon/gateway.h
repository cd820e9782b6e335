/* gateway.h — the node's data plane, built from a vx6.yaml config.
 *
 * What vx6d runs besides its control socket: the TCP + Noise transport
 * listening on `listen`, the published services (vx_services_accept() as the
 * transport's accept callback), the path layer (aliases, clearnet, direct
 * port = the port of the first `listen` address) and the front-end on
 * `socks` with the configured `forwards`.  vx_gateway_reload() swaps in
 * services, forwards, aliases, clearnet, socks_auth and limits from a new
 * config; listen and socks addresses need a restart.
 */
#ifndef VX6_DAEMON_GATEWAY_H
#define VX6_DAEMON_GATEWAY_H

#include <stddef.h>

#include "crypto/identity.h"
#include "daemon/config.h"
#include "front/front.h"
#include "path/path.h"
#include "service/service.h"
#include "transport/transport.h"

struct ev_loop;
struct vx_gateway;

/* Start everything cfg asks for.  id must outlive the gateway; cfg is only
 * read during the call.  0, or an error with a one-line reason in err
 * (VX_ERR_SYS: a listener could not be opened; VX_ERR_CONFIG). */
int vx_gateway_new(struct ev_loop *loop, const struct vx_identity *id, const struct vx_config *cfg,
                   struct vx_gateway **out, char *err, size_t errlen);
/* Stop and free everything.  Accepts NULL. */
void vx_gateway_free(struct vx_gateway *gw);

/* Apply a new config (SIGHUP).  Problems with single items (a forward
 * whose address is taken) are logged and the rest applied; returns 0 or
 * the first error. */
int vx_gateway_reload(struct vx_gateway *gw, const struct vx_config *cfg);

/* fn(arg) runs first thing in vx_gateway_free(), while the transport,
 * path and services still exist (the path module frees its relay there:
 * after the DHT module, before the transport).  fn NULL: none. */
void vx_gateway_set_free_hook(struct vx_gateway *gw, void (*fn)(void *arg), void *arg);

struct vx_transport *vx_gateway_transport(const struct vx_gateway *gw);
struct vx_services *vx_gateway_services(const struct vx_gateway *gw);
struct vx_path *vx_gateway_path(const struct vx_gateway *gw);
struct vx_front *vx_gateway_front(const struct vx_gateway *gw);

/* Convert the config's services to service definitions.  *defs and the
 * arrays it points into are allocated in one block: free(*defs). */
int vx_gateway_service_defs(const struct vx_config *cfg, struct vx_service_def **defs, size_t *n);

#endif
