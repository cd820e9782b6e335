/* service.h — the reverse side: streams that peers open to this node's
 * published services are forwarded into their localhost targets.
 *
 * The daemon builds a table of vx_service_def from the configuration and
 * installs vx_services_accept() as the transport's accept callback.  For each
 * incoming stream: the service is looked up by name (VX_ERR_NOTFOUND if not
 * published), the peer's node ID is checked against the service's allow list
 * (VX_ERR_DENIED), the virtual port is mapped to a target (VX_ERR_NOTFOUND if
 * the service does not publish that port), and a non-blocking connect to the
 * target is started.  Only when it succeeds is the stream accepted and
 * spliced to the socket; a dead target answers VX_ERR_REFUSED (the client
 * sees "connection refused"), a target that does not answer in
 * VX_SERVICE_CONNECT_TIMEOUT_MS answers VX_ERR_TIMEOUT.
 */
#ifndef VX6_SERVICE_SERVICE_H
#define VX6_SERVICE_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"
#include "transport/transport.h"

#define VX_SERVICE_CONNECT_TIMEOUT_MS 5000

struct ev_loop;
struct vx_services;

struct vx_portmap {
    uint16_t vport;                 /* virtual port the client asks for */
    struct sockaddr_storage target; /* where it goes on this host */
    socklen_t target_len;
};

struct vx_service_def {
    char name[VX_TARGET_NAME_MAX + 1];
    int has_target; /* target serves every port not in ports[] */
    struct sockaddr_storage target;
    socklen_t target_len;
    const struct vx_portmap *ports;
    size_t nports;
    const uint8_t (*allow)[VX_NODE_ID_LEN]; /* NULL/0: anyone may connect */
    size_t nallow;
    int hidden; /* reachable only through the hidden-service path */
    int route;  /* VX_SERVICE_ROUTE_*: which paths may reach it */
};

/* Route policy of a service.  RELAY: direct streams are refused with
 * VX_ERR_ROUTE, only relay circuits (BEGIN) reach it; DIRECT: BEGIN is
 * refused (reason ROUTE), only direct streams reach it. */
enum { VX_SERVICE_ROUTE_ANY = 0, VX_SERVICE_ROUTE_DIRECT = 1, VX_SERVICE_ROUTE_RELAY = 2 };

struct vx_service_stats {
    uint64_t accepted; /* streams forwarded to a target */
    uint64_t refused;  /* target refused or timed out */
    uint64_t denied;   /* allow list, route policy */
    uint64_t unknown;  /* no such service or port */
    uint64_t active;   /* forwarded streams open now */
};

/* Never returns NULL. */
struct vx_services *vx_services_new(struct ev_loop *loop);
/* Cancels pending connects (their streams are refused) and frees.  Streams
 * already spliced belong to the transport and live on.  Accepts NULL. */
void vx_services_free(struct vx_services *svcs);

/* Replace the table (on start and on reload).  The definitions are copied.
 * Streams already forwarded are not affected.  0 or VX_ERR_INVAL (duplicate
 * name, port map without target). */
int vx_services_set(struct vx_services *svcs, const struct vx_service_def *defs, size_t n);

/* Number of services and a read-only view of one (for `vx6 services`). */
size_t vx_services_count(const struct vx_services *svcs);
const struct vx_service_def *vx_services_get(const struct vx_services *svcs, size_t i);
const struct vx_service_def *vx_services_find(const struct vx_services *svcs, const char *name);

/* Where a stream for (service, vport) would go: 0 and *target, or
 * VX_ERR_NOTFOUND.  Pure; used by the accept path and by tests. */
int vx_service_route(const struct vx_service_def *def, uint16_t vport,
                     const struct sockaddr **target, socklen_t *target_len);
/* 1 if peer may use the service. */
int vx_service_allowed(const struct vx_service_def *def, const uint8_t peer[VX_NODE_ID_LEN]);

/* The transport's accept callback; arg is the struct vx_services. */
void vx_services_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg);

void vx_services_get_stats(const struct vx_services *svcs, struct vx_service_stats *st);

#endif
