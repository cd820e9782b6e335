/* disco_path.c — struct vx_path_resolver on the discovery module. */
#include "daemon/disco_path.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/gateway.h"
#include "dht/dhtmsg.h"
#include "lib/err.h"
#include "lib/log.h"
#include "transport/auto.h"
#include "transport/quic.h"

struct wrap {
    struct vx_discovery *ds;
    struct vx_disco_lookup *lk;
    vx_path_resolved_fn done;
    void *ctx;
};

struct attach {
    struct vx_path *p;
    struct vx_transport *t;
    struct vx_transport *quic; /* whose UDP socket the DHT shares, or NULL */
};

/* One attachment per discovery instance (vx6d has one path). */
static struct {
    struct vx_discovery *ds;
    struct attach a;
} attached;

static void wrap_done(void *arg, int err, const struct vx_disco_result *res)
{
    struct wrap *w = arg;
    struct vx_path_node node;

    if (err < 0 || !res) {
        w->done(w->ctx, err < 0 ? err : VX_ERR_INTERNAL, NULL);
        free(w);
        return;
    }
    memset(&node, 0, sizeof(node));
    memcpy(node.node_id, res->node_id, VX_NODE_ID_LEN);
    for (size_t i = 0; i < res->naddrs && i < VX_PATH_MAX_ADDRS; i++) {
        node.addrs[i] = res->addrs[i];
        node.addrlens[i] = res->addrlens[i];
        node.naddrs++;
    }
    if (res->service.u.service.flags & VX_SERVICE_F_RELAY)
        node.route = VX_ROUTE_RELAY;
    else if (res->service.u.service.flags & VX_SERVICE_F_DIRECT)
        node.route = VX_ROUTE_DIRECT;
    _Static_assert(VX_PATH_HOW_MAX >= VX_DISCO_HOW_MAX, "how text fits");
    memcpy(node.how, res->how, VX_DISCO_HOW_MAX);
    w->done(w->ctx, 0, &node);
    free(w);
}

static void *resolver_start(void *rarg, const char *user, const char *service,
                            vx_path_resolved_fn done, void *ctx, int *err)
{
    struct wrap *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->ds = rarg;
    w->done = done;
    w->ctx = ctx;
    w->lk = vx_discovery_resolve(rarg, user, service, 0, wrap_done, w, err);
    if (!w->lk) {
        free(w);
        return NULL;
    }
    return w;
}

static void resolver_cancel(void *rarg, void *handle)
{
    struct wrap *w = handle;
    (void)rarg;
    if (!w)
        return;
    vx_discovery_resolve_cancel(w->lk);
    free(w);
}

const struct vx_path_resolver vx_discovery_path_resolver = {
        .start = resolver_start,
        .cancel = resolver_cancel,
};

/* ---- aliases ----------------------------------------------------------- */

struct alias_acc {
    struct vx_path_alias *a;
    size_t n, cap;
};

static int alias_collect(const char *name, const char *target, int from_config, void *arg)
{
    struct alias_acc *acc = arg;
    (void)from_config;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 16;
        acc->a = realloc(acc->a, acc->cap * sizeof(*acc->a));
        if (!acc->a)
            abort();
    }
    acc->a[acc->n].name = name;
    acc->a[acc->n].target = target;
    acc->n++;
    return 0;
}

int vx_discovery_apply_aliases(struct vx_discovery *ds)
{
    struct alias_acc acc = {0};
    int rc;
    if (attached.ds != ds || !attached.a.p)
        return 0;
    vx_discovery_foreach_alias(ds, alias_collect, &acc);
    rc = vx_path_set_aliases(attached.a.p, acc.a, acc.n);
    if (rc < 0)
        log_warn(LD_PATH, "aliases not applied: %s", vx_strerror(rc));
    free(acc.a);
    return rc;
}

static void aliases_changed(void *arg)
{
    vx_discovery_apply_aliases(arg);
}

static void rebind(void *arg)
{
    struct vx_discovery *ds = arg;
    int n;
    if (attached.ds != ds || !attached.a.t)
        return;
    n = vx_transport_rebind(attached.a.t);
    if (n > 0)
        log_info(LD_NET, "migrated %d QUIC connection%s to the new address", n, n == 1 ? "" : "s");
}

/* DHT datagrams arrive inside the QUIC transport's receive loop; they are
 * queued and handled from the event loop afterwards, so that whatever the
 * DHT does in answer (lookups completing, paths opening QUIC connections)
 * never runs inside that loop. */
#define DGRAM_QUEUE 256
struct dgram {
    struct sockaddr_storage from;
    socklen_t fromlen;
    uint16_t len;
    uint8_t data[VX_DHTMSG_MAX];
};
static struct {
    struct vx_dht *dht;
    struct dgram *q;
    size_t head, n;
    ev_idle idle;
    struct ev_loop *loop;
    uint64_t dropped;
} dq;

void vx_discovery_attach_path(struct vx_discovery *ds, struct vx_path *p, struct vx_transport *t)
{
    if (!p) {
        if (attached.ds == ds) {
            if (attached.a.quic) {
                vx_transport_quic_set_foreign(attached.a.quic, NULL, NULL);
                ev_idle_stop(dq.loop, &dq.idle);
                free(dq.q);
                memset(&dq, 0, sizeof(dq));
            }
            if (attached.a.p)
                vx_path_set_resolver(attached.a.p, NULL, NULL);
            memset(&attached, 0, sizeof(attached));
            vx_discovery_set_alias_hook(ds, NULL, NULL);
            vx_discovery_set_rebind_hook(ds, NULL, NULL);
        }
        return;
    }
    attached.ds = ds;
    attached.a.p = p;
    attached.a.t = t;
    vx_path_set_resolver(p, &vx_discovery_path_resolver, ds);
    vx_discovery_set_alias_hook(ds, aliases_changed, ds);
    vx_discovery_set_rebind_hook(ds, rebind, ds);
    if (vx_discovery_registry(ds))
        vx_discovery_apply_aliases(ds);
}

/* ---- the gateway module ------------------------------------------------ */

static void dgram_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    while (dq.n) {
        struct dgram *g = &dq.q[dq.head];
        dq.head = (dq.head + 1) % DGRAM_QUEUE;
        dq.n--;
        vx_dht_input(dq.dht, g->data, g->len, (struct sockaddr *)&g->from, g->fromlen);
    }
    ev_idle_stop(loop, w);
}

static void dht_datagram(const uint8_t *data, size_t len, const struct sockaddr *from,
                         socklen_t fromlen, void *arg)
{
    struct dgram *g;
    (void)arg;
    if (!vx_dhtmsg_is_dht(data, len) || len > VX_DHTMSG_MAX || fromlen > sizeof(g->from))
        return;
    if (dq.n == DGRAM_QUEUE) {
        dq.dropped++;
        return;
    }
    g = &dq.q[(dq.head + dq.n++) % DGRAM_QUEUE];
    memcpy(&g->from, from, fromlen);
    g->fromlen = fromlen;
    g->len = (uint16_t)len;
    memcpy(g->data, data, len);
    ev_idle_start(dq.loop, &dq.idle);
}

static void gateway_start_hook(struct vx_discovery *ds, struct vx_dht *dht, void *arg)
{
    struct vx_gateway *gw = vx_gatewaymod_gateway(arg);
    struct vx_transport *t, *q;
    int fd;

    if (!gw)
        return;
    t = vx_gateway_transport(gw);
    vx_discovery_attach_path(ds, vx_gateway_path(gw), t);
    /* QUIC owns the node's UDP port: the DHT sends from it and gets the
     * datagrams that are not QUIC. */
    q = t ? vx_transport_auto_carrier(t, VX_TRANSPORT_QUIC) : NULL;
    fd = q ? vx_transport_quic_udp_fd(q) : -1;
    if (fd >= 0 && vx_dht_attach_fd(dht, fd) == 0) {
        if (!dq.q) {
            dq.q = calloc(DGRAM_QUEUE, sizeof(*dq.q));
            if (!dq.q)
                abort();
        }
        dq.dht = dht;
        dq.loop = vx_discovery_loop(ds);
        ev_idle_init(&dq.idle, dgram_idle_cb);
        if (vx_transport_quic_set_foreign(q, dht_datagram, dht) == 0)
            attached.a.quic = q;
    }
}

void vx_discovery_use_gateway(struct vx_discovery *ds, struct vx_gatewaymod *m)
{
    vx_discovery_set_start_hook(ds, gateway_start_hook, m);
}
