/* disco_path.c — struct vx_path_resolver on the discovery module. */
#include "daemon/disco_path.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "transport/auto.h"

struct wrap {
    struct vx_discovery *ds;
    struct vx_disco_lookup *lk;
    vx_path_resolved_fn done;
    void *ctx;
};

struct attach {
    struct vx_path *p;
    struct vx_transport *t;
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

void vx_discovery_attach_path(struct vx_discovery *ds, struct vx_path *p, struct vx_transport *t)
{
    if (!p) {
        if (attached.ds == ds) {
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
