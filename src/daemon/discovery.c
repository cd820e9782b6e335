/* discovery.c — vx6d's discovery module: registry, DHT, own records,
 * USER.SERVICE resolution, control commands. */
#include "daemon/discovery.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/disco_path.h"
#include "daemon/netwatch.h"
#include "front/name.h"
#include "lib/base32.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/vxtime.h"

#define SYNC_FETCH_MAX  4 /* NODE records fetched per peer-sync round */
#define MAX_UNPUBLISHED 64

struct own_service {
    char name[VX_LABEL_MAX + 1];
    uint8_t key[VX_DHT_KEY_LEN];
};

struct vx_discovery {
    struct vx_daemon *d;
    struct ev_loop *loop;
    const struct vx_identity *id;
    struct vx_registry *reg;
    struct vx_dht *dht;
    struct vx_netwatch *nw;
    char reg_path[4096];
    int running;

    uint32_t lifetime_s;
    uint64_t seq; /* last sequence used for an own USERNAME/SERVICE record */
    struct vx_endpoint eps[VX_RECORD_MAX_ENDPOINTS];
    size_t n_eps;

    char user[VX_LABEL_MAX + 1]; /* claimed user name, "" if none */
    struct own_service *svcs;    /* published SERVICE records */
    size_t n_svcs;
    char unpublished[MAX_UNPUBLISHED][VX_LABEL_MAX + 1]; /* `vx6 unpublish` */
    size_t n_unpublished;

    ev_timer save_timer, sync_timer;
    struct vx_disco_lookup *lookups;

    void (*rebind_fn)(void *);
    void *rebind_arg;
    void (*alias_fn)(void *);
    void *alias_arg;
    void (*start_fn)(struct vx_discovery *, struct vx_dht *, void *);
    void *start_arg;
};

/* ---- small helpers ----------------------------------------------------- */

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int vx_discovery_parse_key(const char *s, uint8_t pk[VX_PK_LEN])
{
    size_t len = strlen(s);
    if (len == 2 * VX_PK_LEN) {
        for (size_t i = 0; i < VX_PK_LEN; i++) {
            unsigned v;
            if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
                sscanf(s + 2 * i, "%2x", &v) != 1)
                return VX_ERR_BADADDR;
            pk[i] = (uint8_t)v;
        }
        return 0;
    }
    if (len == VX_NODE_ID_STRLEN) {
        char low[VX_NODE_ID_STRLEN + 1];
        for (size_t i = 0; i <= len; i++)
            low[i] = (char)tolower((unsigned char)s[i]);
        if (vx_base32_decode(low, len, pk, VX_PK_LEN) == VX_PK_LEN)
            return 0;
    }
    return VX_ERR_BADADDR;
}

static void endpoint_to_sockaddr(const struct vx_endpoint *ep, struct sockaddr_storage *ss,
                                 socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (ep->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ep->addr, 4);
        s4->sin_port = htons(ep->port);
        *len = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, ep->addr, 16);
        s6->sin6_port = htons(ep->port);
        *len = sizeof(*s6);
    }
}

static void format_endpoint(const struct vx_endpoint *ep, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    endpoint_to_sockaddr(ep, &ss, &sl);
    if (vx_addr_format((struct sockaddr *)&ss, sl, out, cap) < 0)
        snprintf(out, cap, "?");
}

static const char *transports_name(uint8_t t)
{
    switch (t) {
    case VX_REC_TRANSPORT_TCP:
        return "tcp";
    case VX_REC_TRANSPORT_QUIC:
        return "quic";
    case VX_REC_TRANSPORT_TCP | VX_REC_TRANSPORT_QUIC:
        return "tcp,quic";
    default:
        return "?";
    }
}

static uint8_t cfg_transports(const struct vx_config *cfg)
{
    switch (cfg->transport) {
    case VX_CFG_TRANSPORT_TCP:
        return VX_REC_TRANSPORT_TCP;
    case VX_CFG_TRANSPORT_QUIC:
        return VX_REC_TRANSPORT_QUIC;
    default:
        return VX_REC_TRANSPORT_TCP | VX_REC_TRANSPORT_QUIC;
    }
}

/* ---- endpoints --------------------------------------------------------- */

static int v6_advertisable(const uint8_t *a)
{
    static const uint8_t zero[16];
    if (memcmp(a, zero, 16) == 0)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a) ||
        IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)a) ||
        IN6_IS_ADDR_MULTICAST((const struct in6_addr *)a) ||
        IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a) ||
        IN6_IS_ADDR_SITELOCAL((const struct in6_addr *)a))
        return 0;
    return 1;
}

static int v4_advertisable(const uint8_t *a)
{
    return a[0] != 0 && a[0] != 127 && !(a[0] == 169 && a[1] == 254) && a[0] < 224;
}

static int add_ep(struct vx_endpoint *out, size_t *n, size_t max, const struct vx_endpoint *ep)
{
    for (size_t i = 0; i < *n; i++)
        if (out[i].family == ep->family && out[i].port == ep->port &&
            memcmp(out[i].addr, ep->addr, ep->family == 4 ? 4 : 16) == 0)
            return 0;
    if (*n >= max)
        return VX_ERR_TOOBIG;
    out[(*n)++] = *ep;
    return 0;
}

size_t vx_discovery_local_endpoints(const struct vx_addr *listen, size_t n_listen,
                                    uint8_t transports, struct vx_endpoint *out, size_t max)
{
    struct ifaddrs *ifa = NULL;
    size_t n = 0;
    int have_ifa = 0;

    /* two passes: IPv6 first, then IPv4 */
    for (int pass = 6; pass >= 4; pass -= 2) {
        for (size_t i = 0; i < n_listen; i++) {
            const struct sockaddr *sa = (const struct sockaddr *)&listen[i].ss;
            struct vx_endpoint ep = {.transports = transports, .port = vx_addr_port(sa)};
            int any = vx_addr_is_any(sa);
            int v6sock = sa->sa_family == AF_INET6;

            if (!any) {
                if (v6sock) {
                    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
                    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
                        if (pass != 4)
                            continue;
                        ep.family = 4;
                        memcpy(ep.addr, a + 12, 4);
                    } else {
                        if (pass != 6)
                            continue;
                        ep.family = 6;
                        memcpy(ep.addr, a, 16);
                    }
                } else {
                    if (pass != 4)
                        continue;
                    ep.family = 4;
                    memcpy(ep.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
                }
                add_ep(out, &n, max, &ep);
                continue;
            }
            /* wildcard: [::] (dual-stack) gives both families, 0.0.0.0 IPv4 */
            if (pass == 6 && !v6sock)
                continue;
            if (!have_ifa) {
                if (getifaddrs(&ifa) < 0) {
                    log_warn(LD_DHT, "cannot list the host's addresses: %s", strerror(errno));
                    ifa = NULL;
                }
                have_ifa = 1;
            }
            for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
                if (!p->ifa_addr)
                    continue;
                if (pass == 6 && p->ifa_addr->sa_family == AF_INET6) {
                    const uint8_t *a =
                            ((const struct sockaddr_in6 *)p->ifa_addr)->sin6_addr.s6_addr;
                    if (!v6_advertisable(a))
                        continue;
                    ep.family = 6;
                    memcpy(ep.addr, a, 16);
                    add_ep(out, &n, max, &ep);
                } else if (pass == 4 && p->ifa_addr->sa_family == AF_INET) {
                    const uint8_t *a =
                            (const uint8_t *)&((const struct sockaddr_in *)p->ifa_addr)->sin_addr;
                    if (!v4_advertisable(a))
                        continue;
                    memset(ep.addr, 0, sizeof(ep.addr));
                    ep.family = 4;
                    memcpy(ep.addr, a, 4);
                    add_ep(out, &n, max, &ep);
                }
            }
        }
    }
    if (ifa)
        freeifaddrs(ifa);
    return n;
}

/* ---- own records ------------------------------------------------------- */

static uint64_t next_seq(struct vx_discovery *ds)
{
    uint64_t now = vx_time_unix();
    ds->seq = ds->seq >= now ? ds->seq + 1 : now;
    return ds->seq;
}

static void published_cb(int stored, void *arg)
{
    log_debug(LD_DHT, "own record %s stored at %d node%s", (const char *)arg, stored,
              stored == 1 ? "" : "s");
}

static int publish_endpoints(struct vx_discovery *ds, int log_change)
{
    const struct vx_config *cfg = vx_daemon_config(ds->d);
    struct vx_endpoint eps[VX_RECORD_MAX_ENDPOINTS];
    size_t n = vx_discovery_local_endpoints(cfg->listen, cfg->n_listen, cfg_transports(cfg), eps,
                                            VX_RECORD_MAX_ENDPOINTS);
    int rc;

    if (log_change && n == ds->n_eps && memcmp(eps, ds->eps, n * sizeof(eps[0])) == 0)
        return 1; /* unchanged */
    if (n == 0)
        log_notice(LD_DHT, "no global or ULA address to advertise yet: other nodes cannot reach "
                           "this one until an address appears");
    for (size_t i = 0; i < n; i++) {
        char a[VX_ADDR_STRLEN];
        format_endpoint(&eps[i], a, sizeof(a));
        if (log_change)
            log_notice(LD_DHT, "advertising endpoint %s (%s)", a,
                       transports_name(eps[i].transports));
        else
            log_info(LD_DHT, "advertising endpoint %s (%s)", a, transports_name(eps[i].transports));
    }
    rc = vx_dht_set_endpoints(ds->dht, eps, n, VX_DISCO_LIFETIME_S);
    if (rc < 0) {
        log_warn(LD_DHT, "cannot publish this node's record: %s", vx_strerror(rc));
        return rc;
    }
    memcpy(ds->eps, eps, n * sizeof(eps[0]));
    ds->n_eps = n;
    return 0;
}

static int publish_username(struct vx_discovery *ds, const char *user)
{
    struct vx_record r;
    uint64_t now = vx_time_unix();
    uint8_t key[VX_DHT_KEY_LEN];
    int rc;

    if (ds->user[0] && (!user || strcmp(user, ds->user) != 0)) {
        vx_username_key(ds->user, key);
        vx_dht_unpublish(ds->dht, key);
        log_info(LD_DHT, "withdrew the claim of user %s", ds->user);
        ds->user[0] = '\0';
    }
    if (!user || strcmp(user, ds->user) == 0)
        return 0;
    rc = vx_record_init_username(&r, user, next_seq(ds), now, now + ds->lifetime_s);
    if (rc == 0)
        rc = vx_record_sign(&r, ds->id);
    if (rc == 0)
        rc = vx_dht_publish(ds->dht, &r, published_cb, "USERNAME");
    if (rc < 0) {
        log_warn(LD_DHT, "cannot publish the claim of user %s: %s", user, vx_strerror(rc));
        return rc;
    }
    /* our own name: pinned to our key, so that resolving ourselves works */
    vx_registry_trust(ds->reg, user, ds->id->pk, now);
    snprintf(ds->user, sizeof(ds->user), "%s", user);
    log_info(LD_DHT, "claimed user name %s", user);
    return 0;
}

static int is_unpublished(const struct vx_discovery *ds, const char *name)
{
    for (size_t i = 0; i < ds->n_unpublished; i++)
        if (strcmp(ds->unpublished[i], name) == 0)
            return 1;
    return 0;
}

static int build_service(struct vx_discovery *ds, const char *user, const struct vx_cfg_service *s,
                         struct vx_record *r)
{
    uint64_t now = vx_time_unix();
    int rc = vx_record_init_service(r, user, s->name, next_seq(ds), now, now + ds->lifetime_s);
    if (rc < 0)
        return rc;
    if (s->route == VX_CFG_ROUTE_RELAY)
        r->u.service.flags |= VX_SERVICE_F_RELAY;
    else if (s->route == VX_CFG_ROUTE_DIRECT)
        r->u.service.flags |= VX_SERVICE_F_DIRECT;
    if (s->has_target) {
        r->u.service.flags |= VX_SERVICE_F_ANYPORT;
    } else {
        for (size_t i = 0; i < s->n_ports && i < VX_RECORD_MAX_PORTS; i++)
            r->u.service.ports[r->u.service.n_ports++] = s->ports[i].vport;
        if (s->n_ports > VX_RECORD_MAX_PORTS)
            log_warn(LD_DHT, "service %s: only the first %d of %zu ports are announced", s->name,
                     VX_RECORD_MAX_PORTS, s->n_ports);
    }
    return vx_record_sign(r, ds->id);
}

/* Make the published SERVICE records match cfg (minus `vx6 unpublish`ed). */
static void sync_services(struct vx_discovery *ds, const struct vx_config *cfg, int force)
{
    struct own_service *keep = calloc(cfg->n_services + 1, sizeof(*keep));
    size_t nk = 0;

    if (!keep)
        abort();
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        struct vx_record r;
        int rc;
        if (s->hidden || !cfg->user || is_unpublished(ds, s->name))
            continue;
        rc = build_service(ds, cfg->user, s, &r);
        if (rc == 0)
            rc = vx_dht_publish(ds->dht, &r, published_cb, "SERVICE");
        if (rc < 0) {
            log_warn(LD_DHT, "cannot publish %s.%s: %s", cfg->user, s->name, vx_strerror(rc));
            continue;
        }
        (void)force;
        snprintf(keep[nk].name, sizeof(keep[nk].name), "%s", s->name);
        vx_record_key(&r, keep[nk].key);
        nk++;
        log_info(LD_DHT, "published service %s.%s.vx6", cfg->user, s->name);
    }
    /* withdraw what is no longer published */
    for (size_t i = 0; i < ds->n_svcs; i++) {
        int still = 0;
        for (size_t j = 0; j < nk; j++)
            if (memcmp(ds->svcs[i].key, keep[j].key, VX_DHT_KEY_LEN) == 0)
                still = 1;
        if (!still) {
            vx_dht_unpublish(ds->dht, ds->svcs[i].key);
            log_info(LD_DHT, "withdrew service %s", ds->svcs[i].name);
        }
    }
    free(ds->svcs);
    ds->svcs = keep;
    ds->n_svcs = nk;
    if (cfg->n_services && !cfg->user) {
        for (size_t i = 0; i < cfg->n_services; i++)
            if (!cfg->services[i].hidden) {
                log_notice(LD_CONFIG, "services are not published by name: no 'user' in the "
                                      "configuration");
                break;
            }
    }
}

/* ---- timers ------------------------------------------------------------ */

static void save_registry(struct vx_discovery *ds, const char *why)
{
    int rc;
    if (!ds->reg || !vx_registry_dirty(ds->reg))
        return;
    rc = vx_registry_save(ds->reg);
    if (rc < 0)
        log_warn_rl(LD_REGISTRY, "cannot save the registry %s (%s): %s", ds->reg_path, why,
                    rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
    else
        log_debug(LD_REGISTRY, "registry saved (%s)", why);
}

static void save_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    save_registry(w->data, "periodic");
}

struct sync_ctx {
    struct vx_discovery *ds;
    uint8_t ids[SYNC_FETCH_MAX][VX_NODE_ID_LEN];
    size_t n;
    size_t contacts;
};

static int sync_collect(const struct vx_rt_contact *c, void *arg)
{
    struct sync_ctx *sc = arg;
    sc->contacts++;
    if (sc->n < SYNC_FETCH_MAX && c->confirmed && !vx_registry_peer_get(sc->ds->reg, c->id))
        memcpy(sc->ids[sc->n++], c->id, VX_NODE_ID_LEN);
    return 0;
}

static void sync_fetched(const struct vx_dht_result *res, void *arg)
{
    (void)arg;
    /* the DHT driver files a found NODE record in the registry itself */
    if (res->err == 0 && res->rec)
        log_debug(LD_REGISTRY, "peer sync: fetched a node record");
}

static void sync_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_discovery *ds = w->data;
    struct sync_ctx sc = {.ds = ds};
    struct vx_dht_conf conf;
    (void)loop;
    (void)revents;

    vx_dht_conf_default(&conf);
    vx_dht_foreach_peer(ds->dht, sync_collect, &sc);
    if (sc.contacts < conf.core.k) {
        const struct vx_registry_peer *best[1];
        if (vx_registry_best_peers(ds->reg, vx_time_unix(), best, 1) > 0)
            vx_dht_bootstrap(ds->dht, NULL, 0); /* re-add registry peers */
    }
    for (size_t i = 0; i < sc.n; i++)
        vx_dht_find_node(ds->dht, sc.ids[i], sync_fetched, NULL);
}

static void addresses_changed(void *arg)
{
    struct vx_discovery *ds = arg;
    if (!ds->running)
        return;
    if (vx_discovery_refresh_endpoints(ds) == 0 && ds->rebind_fn)
        ds->rebind_fn(ds->rebind_arg);
}

int vx_discovery_refresh_endpoints(struct vx_discovery *ds)
{
    int rc;
    if (!ds->running)
        return VX_ERR_INVAL;
    rc = publish_endpoints(ds, 1);
    if (rc == 1) {
        log_debug(LD_DHT, "address change does not affect the advertised endpoints");
        return 1;
    }
    return rc;
}

/* ---- resolution -------------------------------------------------------- */

enum lk_stage { LK_USER, LK_SERVICE, LK_CLAIM, LK_NODE, LK_DONE };

struct vx_disco_lookup {
    struct vx_disco_lookup *next;
    struct vx_discovery *ds;
    char user[VX_LABEL_MAX + 1];
    char service[VX_LABEL_MAX + 1];
    unsigned flags;
    enum lk_stage stage;
    int dht_pending; /* a DHT callback will still come */
    int finished;    /* done called or cancelled */
    int pinned;      /* a pin existed when we started */
    vx_disco_done_fn done;
    void *ctx;
    ev_timer deadline;
    uint64_t started_ms;
    unsigned hops, queried, network;
    struct vx_disco_result res;
};

static void lookup_unlink_free(struct vx_disco_lookup *lk)
{
    struct vx_disco_lookup **pp = &lk->ds->lookups;
    while (*pp && *pp != lk)
        pp = &(*pp)->next;
    if (*pp)
        *pp = lk->next;
    ev_timer_stop(lk->ds->loop, &lk->deadline);
    free(lk);
}

static void lookup_finish(struct vx_disco_lookup *lk, int err)
{
    if (lk->finished)
        return;
    lk->finished = 1;
    lk->stage = LK_DONE;
    ev_timer_stop(lk->ds->loop, &lk->deadline);
    if (err == 0) {
        uint64_t ms = vx_time_mono_ms() - lk->started_ms;
        if (!lk->network)
            snprintf(lk->res.how, sizeof(lk->res.how), "registry cache");
        else
            snprintf(lk->res.how, sizeof(lk->res.how), "DHT: %u hop%s, %u node%s queried, %llu ms",
                     lk->hops, lk->hops == 1 ? "" : "s", lk->queried, lk->queried == 1 ? "" : "s",
                     (unsigned long long)ms);
    }
    lk->done(lk->ctx, err, err == 0 || err == VX_ERR_KEYCHANGED ? &lk->res : NULL);
    if (!lk->dht_pending)
        lookup_unlink_free(lk);
}

static void lookup_dht_cb(const struct vx_dht_result *r, void *arg);

static int lookup_ask(struct vx_disco_lookup *lk, const uint8_t key[VX_DHT_KEY_LEN],
                      const uint8_t *want)
{
    int rc = vx_dht_lookup(lk->ds->dht, key, want, lookup_dht_cb, lk);
    if (rc == 0)
        lk->dht_pending = 1;
    return rc;
}

static int ask_service(struct vx_disco_lookup *lk)
{
    uint8_t key[VX_DHT_KEY_LEN];
    lk->stage = LK_SERVICE;
    vx_service_key(lk->user, lk->service, key);
    return lookup_ask(lk, key, lk->res.user_key);
}

static int ask_node(struct vx_disco_lookup *lk)
{
    const struct vx_registry_peer *p;
    lk->stage = LK_NODE;
    p = vx_registry_peer_get(lk->ds->reg, lk->res.node_id);
    /* Drop the cached copy when asked to (a dial to it failed), or when
     * the peer stopped answering at it: the network may know newer
     * endpoints (a moved node republishes with a higher sequence). */
    if (p && ((lk->flags & VX_DISCO_FRESH) ||
              (p->failures > 0 && p->last_seen + VX_DISCO_STALE_S < vx_time_unix())))
        vx_registry_peer_remove(lk->ds->reg, lk->res.node_id);
    return lookup_ask(lk, lk->res.node_id, NULL);
}

static void keychanged(struct vx_disco_lookup *lk, const uint8_t *offered)
{
    char pinned[2 * VX_PK_LEN + 1], seen[2 * VX_PK_LEN + 1];
    const struct vx_registry_pin *pin = vx_registry_pin_get(lk->ds->reg, lk->user);
    hex(pin ? pin->pk : lk->res.user_key, VX_PK_LEN, pinned);
    hex(offered, VX_PK_LEN, seen);
    log_warn(LD_DHT,
             "user %s is pinned to key %s but the network offers key %s: refusing (if the "
             "change is expected, run 'vx6 trust %s %s')",
             lk->user, pinned, seen, lk->user, seen);
    memcpy(lk->res.user_key, offered, VX_PK_LEN);
    lookup_finish(lk, VX_ERR_KEYCHANGED);
}

static void lookup_dht_cb(const struct vx_dht_result *r, void *arg)
{
    struct vx_disco_lookup *lk = arg;
    struct vx_discovery *ds = lk->ds;
    uint64_t now = vx_time_unix();
    int rc;

    lk->dht_pending = 0;
    if (lk->finished) {
        lookup_unlink_free(lk);
        return;
    }
    if (!r->from_cache) {
        lk->network = 1;
        lk->hops += r->hops;
        lk->queried += r->queried;
    }
    switch (lk->stage) {
    case LK_USER:
        if (r->err < 0 || !r->rec || r->rec->type != VX_REC_USERNAME ||
            strcmp(r->rec->u.username.user, lk->user) != 0) {
            lookup_finish(lk, r->err == VX_ERR_TIMEOUT ? VX_ERR_TIMEOUT : VX_ERR_NOTFOUND);
            return;
        }
        rc = vx_registry_pin_check(ds->reg, lk->user, r->rec->signer, now);
        if (rc == VX_ERR_KEYCHANGED) {
            keychanged(lk, r->rec->signer);
            return;
        }
        if (rc < 0) {
            lookup_finish(lk, rc);
            return;
        }
        memcpy(lk->res.user_key, r->rec->signer, VX_PK_LEN);
        lk->res.pin = VX_PIN_NEW;
        {
            char pk[2 * VX_PK_LEN + 1];
            hex(r->rec->signer, VX_PK_LEN, pk);
            log_notice(LD_DHT, "pinned user %s to key %s (first use)", lk->user, pk);
        }
        rc = ask_service(lk);
        break;
    case LK_SERVICE:
        if (r->err < 0 || !r->rec || r->rec->type != VX_REC_SERVICE) {
            if (lk->pinned && r->err == VX_ERR_NOTFOUND) {
                /* no service under the pinned key: is the name claimed by
                 * another key now? */
                uint8_t key[VX_DHT_KEY_LEN];
                lk->stage = LK_CLAIM;
                vx_username_key(lk->user, key);
                rc = lookup_ask(lk, key, NULL);
                break;
            }
            lookup_finish(lk, r->err == VX_ERR_TIMEOUT ? VX_ERR_TIMEOUT : VX_ERR_NOTFOUND);
            return;
        }
        lk->res.service = *r->rec;
        memcpy(lk->res.node_id, r->rec->u.service.node_id, VX_NODE_ID_LEN);
        rc = ask_node(lk);
        break;
    case LK_CLAIM:
        if (r->err == 0 && r->rec && r->rec->type == VX_REC_USERNAME &&
            memcmp(r->rec->signer, lk->res.user_key, VX_PK_LEN) != 0) {
            keychanged(lk, r->rec->signer);
            return;
        }
        lookup_finish(lk, r->err == VX_ERR_TIMEOUT ? VX_ERR_TIMEOUT : VX_ERR_NOTFOUND);
        return;
    case LK_NODE:
        if (r->err < 0 || !r->rec || r->rec->type != VX_REC_NODE ||
            memcmp(r->rec->u.node.node_id, lk->res.node_id, VX_NODE_ID_LEN) != 0) {
            lookup_finish(lk, r->err == VX_ERR_TIMEOUT ? VX_ERR_TIMEOUT : VX_ERR_NOTFOUND);
            return;
        }
        {
            /* a newer copy in the registry (learnt from PING/PONG) wins */
            const struct vx_registry_peer *p = vx_registry_peer_get(ds->reg, lk->res.node_id);
            lk->res.node = *r->rec;
            if (p && p->rec.seq > r->rec->seq && p->rec.expires > now)
                lk->res.node = p->rec;
        }
        lk->res.naddrs = 0;
        for (unsigned i = 0; i < lk->res.node.u.node.n_endpoints && i < VX_DISCO_MAX_ADDRS; i++) {
            endpoint_to_sockaddr(&lk->res.node.u.node.endpoints[i], &lk->res.addrs[lk->res.naddrs],
                                 &lk->res.addrlens[lk->res.naddrs]);
            lk->res.naddrs++;
        }
        if (lk->res.naddrs == 0) {
            lookup_finish(lk, VX_ERR_UNREACH);
            return;
        }
        lookup_finish(lk, 0);
        return;
    default:
        return;
    }
    if (rc < 0)
        lookup_finish(lk, rc);
}

static void lookup_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_disco_lookup *lk = w->data;
    (void)loop;
    (void)revents;
    log_info(LD_DHT, "resolving %s.%s timed out", lk->user, lk->service);
    lookup_finish(lk, VX_ERR_TIMEOUT);
}

struct vx_disco_lookup *vx_discovery_resolve(struct vx_discovery *ds, const char *user,
                                             const char *service, unsigned flags,
                                             vx_disco_done_fn done, void *ctx, int *err)
{
    struct vx_disco_lookup *lk;
    const struct vx_registry_pin *pin;
    int rc;

    if (!ds->running) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    if (vx_label_check(user) < 0 || vx_label_check(service) < 0) {
        *err = VX_ERR_BADADDR;
        return NULL;
    }
    lk = calloc(1, sizeof(*lk));
    if (!lk)
        abort();
    lk->ds = ds;
    snprintf(lk->user, sizeof(lk->user), "%s", user);
    snprintf(lk->service, sizeof(lk->service), "%s", service);
    lk->flags = flags;
    lk->done = done;
    lk->ctx = ctx;
    lk->started_ms = vx_time_mono_ms();
    ev_timer_init(&lk->deadline, lookup_deadline_cb, VX_DISCO_RESOLVE_MS / 1000.0, 0.);
    lk->deadline.data = lk;

    pin = vx_registry_pin_get(ds->reg, user);
    if (pin) {
        lk->pinned = 1;
        lk->res.pin = VX_PIN_MATCH;
        memcpy(lk->res.user_key, pin->pk, VX_PK_LEN);
        rc = ask_service(lk);
    } else {
        uint8_t key[VX_DHT_KEY_LEN];
        lk->stage = LK_USER;
        vx_username_key(user, key);
        rc = lookup_ask(lk, key, NULL);
    }
    if (rc < 0) {
        free(lk);
        *err = rc;
        return NULL;
    }
    ev_timer_start(ds->loop, &lk->deadline);
    lk->next = ds->lookups;
    ds->lookups = lk;
    return lk;
}

void vx_discovery_resolve_cancel(struct vx_disco_lookup *lk)
{
    if (!lk || lk->finished)
        return;
    lk->finished = 1;
    ev_timer_stop(lk->ds->loop, &lk->deadline);
    if (!lk->dht_pending)
        lookup_unlink_free(lk);
}

void vx_discovery_endpoint_failed(struct vx_discovery *ds, const uint8_t node_id[VX_NODE_ID_LEN])
{
    if (ds->reg && vx_registry_peer_get(ds->reg, node_id)) {
        char s[VX_NODE_ID_STRLEN + 1];
        vx_node_id_to_str(node_id, s, sizeof(s));
        log_info(LD_DHT, "node %s unreachable at its cached endpoints: will look it up again", s);
        vx_registry_peer_remove(ds->reg, node_id);
    }
}

/* ---- aliases ----------------------------------------------------------- */

const char *vx_discovery_alias(const struct vx_discovery *ds, const char *name)
{
    const struct vx_config *cfg = ds->d ? vx_daemon_config(ds->d) : NULL;
    if (cfg)
        for (size_t i = 0; i < cfg->n_aliases; i++)
            if (strcmp(cfg->aliases[i].name, name) == 0)
                return cfg->aliases[i].target;
    return ds->reg ? vx_registry_alias_get(ds->reg, name) : NULL;
}

struct alias_iter {
    const struct vx_config *cfg;
    int (*cb)(const char *, const char *, int, void *);
    void *arg;
    int stop;
};

static int alias_iter_cb(const char *name, const char *target, void *arg)
{
    struct alias_iter *it = arg;
    if (it->cfg)
        for (size_t i = 0; i < it->cfg->n_aliases; i++)
            if (strcmp(it->cfg->aliases[i].name, name) == 0)
                return 0; /* shadowed by the config */
    it->stop = it->cb(name, target, 0, it->arg);
    return it->stop;
}

void vx_discovery_foreach_alias(const struct vx_discovery *ds,
                                int (*cb)(const char *name, const char *target, int from_config,
                                          void *arg),
                                void *arg)
{
    struct alias_iter it = {.cfg = ds->d ? vx_daemon_config(ds->d) : NULL, .cb = cb, .arg = arg};
    if (it.cfg)
        for (size_t i = 0; i < it.cfg->n_aliases; i++)
            if (cb(it.cfg->aliases[i].name, it.cfg->aliases[i].target, 1, arg))
                return;
    if (ds->reg)
        vx_registry_foreach_alias(ds->reg, alias_iter_cb, &it);
}

void vx_discovery_set_alias_hook(struct vx_discovery *ds, void (*fn)(void *arg), void *arg)
{
    ds->alias_fn = fn;
    ds->alias_arg = arg;
}

void vx_discovery_set_start_hook(struct vx_discovery *ds,
                                 void (*fn)(struct vx_discovery *ds, struct vx_dht *dht, void *arg),
                                 void *arg)
{
    ds->start_fn = fn;
    ds->start_arg = arg;
}

void vx_discovery_set_rebind_hook(struct vx_discovery *ds, void (*fn)(void *arg), void *arg)
{
    ds->rebind_fn = fn;
    ds->rebind_arg = arg;
}

struct vx_dht *vx_discovery_dht(const struct vx_discovery *ds)
{
    return ds->running ? ds->dht : NULL;
}

struct ev_loop *vx_discovery_loop(const struct vx_discovery *ds)
{
    return ds->loop;
}

struct vx_registry *vx_discovery_registry(const struct vx_discovery *ds)
{
    return ds->running ? ds->reg : NULL;
}

/* ---- control commands -------------------------------------------------- */

/* "alice.web.vx6", "alice.web", "ALIAS.vx6" -> user and service. */
static int name_to_service(struct vx_discovery *ds, const char *in, char *user, char *service,
                           char *why, size_t whylen)
{
    char host[VX_NAME_HOST_MAX + 8];
    struct vx_name n;
    size_t l = strlen(in);
    int rc;

    if (l >= 4 && strcasecmp(in + l - 4, ".vx6") == 0)
        snprintf(host, sizeof(host), "%s", in);
    else if (l >= 5 && strcasecmp(in + l - 5, ".vx6.") == 0)
        snprintf(host, sizeof(host), "%s", in);
    else
        snprintf(host, sizeof(host), "%s.vx6", in);
    for (int depth = 0; depth < 2; depth++) {
        rc = vx_name_parse(host, 0, &n);
        if (rc < 0) {
            snprintf(why, whylen, "'%s' is not a valid .vx6 name", in);
            return VX_ERR_BADADDR;
        }
        if (n.kind == VX_NAME_SERVICE) {
            snprintf(user, VX_LABEL_MAX + 1, "%s", n.user);
            snprintf(service, VX_LABEL_MAX + 1, "%s", n.service);
            return 0;
        }
        if (n.kind == VX_NAME_ALIAS && depth == 0) {
            const char *t = vx_discovery_alias(ds, n.alias);
            if (!t) {
                snprintf(why, whylen,
                         "'%s' is no USER.SERVICE name and no known alias (see vx6 "
                         "alias list)",
                         in);
                return VX_ERR_NOTFOUND;
            }
            l = strlen(t);
            snprintf(host, sizeof(host), "%s%s", t,
                     (l >= 4 && strcasecmp(t + l - 4, ".vx6") == 0) ? "" : ".vx6");
            continue;
        }
        if (n.kind == VX_NAME_HIDDEN)
            snprintf(why, whylen, "'%s' is a hidden-service address: it has no public record", in);
        else if (n.kind == VX_NAME_IPV6)
            snprintf(why, whylen, "'%s' is a direct IPv6 name: nothing to resolve", in);
        else
            snprintf(why, whylen, "'%s' is not a USER.SERVICE name", in);
        return VX_ERR_INVAL;
    }
    snprintf(why, whylen, "alias '%s' points to another alias", in);
    return VX_ERR_INVAL;
}

struct resolve_req {
    struct vx_ctl_reply *r;
    struct vx_disco_lookup *lk;
    struct vx_discovery *ds;
    char name[VX_NAME_HOST_MAX + 8];
    char user[VX_LABEL_MAX + 1], service[VX_LABEL_MAX + 1];
    uint8_t offered[VX_PK_LEN]; /* on VX_ERR_KEYCHANGED */
};

static void resolve_cancelled(void *arg)
{
    struct resolve_req *rq = arg;
    vx_discovery_resolve_cancel(rq->lk);
    free(rq);
}

static void json_record_times(struct vx_json *j, const struct vx_record *rec)
{
    vx_json_kv_uint(j, "seq", rec->seq);
    vx_json_kv_uint(j, "issued", rec->issued);
    vx_json_kv_uint(j, "expires", rec->expires);
}

/* The owner's route policy in a SERVICE record, as `vx6 resolve` shows it. */
static const char *route_policy_name(uint32_t flags)
{
    if (flags & VX_SERVICE_F_RELAY)
        return "relay";
    if (flags & VX_SERVICE_F_DIRECT)
        return "direct";
    return "any";
}

static void resolve_done(void *ctx, int err, const struct vx_disco_result *res)
{
    struct resolve_req *rq = ctx;
    struct vx_ctl_reply *r = rq->r;
    char node[VX_NODE_ID_STRLEN + 1], pk[2 * VX_PK_LEN + 1];
    const char *pin_state;
    uint64_t now = vx_time_unix();

    if (err == VX_ERR_KEYCHANGED && res)
        memcpy(rq->offered, res->user_key, VX_PK_LEN);
    if (err < 0) {
        if (err == VX_ERR_KEYCHANGED) {
            char offered[2 * VX_PK_LEN + 1];
            hex(rq->offered, VX_PK_LEN, offered);
            /* short enough for one status line; the pinned key is logged */
            vx_ctl_reply_error(r, err,
                               "%s.%s.vx6: KEY CHANGED: %s is pinned to another key. If the "
                               "change is expected: vx6 trust %s %s",
                               rq->user, rq->service, rq->user, rq->user, offered);
        } else if (err == VX_ERR_NOTFOUND)
            vx_ctl_reply_error(r, err, "%s.%s.vx6: no record found (no such user or service)",
                               rq->user, rq->service);
        else
            vx_ctl_reply_error(r, err, "%s.%s.vx6: %s", rq->user, rq->service, vx_strerror(err));
        vx_ctl_reply_finish(r);
        free(rq);
        return;
    }
    vx_node_id_to_str(res->node_id, node, sizeof(node));
    hex(res->user_key, VX_PK_LEN, pk);
    pin_state = res->pin == VX_PIN_NEW ? "pinned now, first use" : "pinned";
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "name", rq->name);
        vx_json_kv_str(j, "user", rq->user);
        vx_json_kv_str(j, "service", rq->service);
        vx_json_kv_str(j, "node_id", node);
        vx_json_kv_str(j, "key", pk);
        vx_json_kv_str(j, "pin", res->pin == VX_PIN_NEW ? "new" : "match");
        vx_json_kv_str(j, "how", res->how);
        vx_json_key(j, "endpoints");
        vx_json_arr_begin(j);
        for (unsigned i = 0; i < res->node.u.node.n_endpoints; i++) {
            char a[VX_ADDR_STRLEN];
            format_endpoint(&res->node.u.node.endpoints[i], a, sizeof(a));
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "address", a);
            vx_json_kv_str(j, "transports",
                           transports_name(res->node.u.node.endpoints[i].transports));
            vx_json_obj_end(j);
        }
        vx_json_arr_end(j);
        vx_json_kv_bool(j, "any_port", res->service.u.service.flags & VX_SERVICE_F_ANYPORT);
        vx_json_kv_str(j, "route", route_policy_name(res->service.u.service.flags));
        vx_json_key(j, "ports");
        vx_json_arr_begin(j);
        for (unsigned i = 0; i < res->service.u.service.n_ports; i++)
            vx_json_uint(j, res->service.u.service.ports[i]);
        vx_json_arr_end(j);
        vx_json_key(j, "service_record");
        vx_json_obj_begin(j);
        json_record_times(j, &res->service);
        vx_json_obj_end(j);
        vx_json_key(j, "node_record");
        vx_json_obj_begin(j);
        json_record_times(j, &res->node);
        vx_json_obj_end(j);
        vx_json_obj_end(j);
    } else {
        vx_ctl_reply_printf(r, "%s.%s.vx6\n", rq->user, rq->service);
        vx_ctl_reply_printf(r, "  node ID:   %s\n", node);
        vx_ctl_reply_printf(r, "  key:       %s (%s)\n", pk, pin_state);
        for (unsigned i = 0; i < res->node.u.node.n_endpoints; i++) {
            char a[VX_ADDR_STRLEN];
            format_endpoint(&res->node.u.node.endpoints[i], a, sizeof(a));
            vx_ctl_reply_printf(r, "  endpoint:  %s (%s)\n", a,
                                transports_name(res->node.u.node.endpoints[i].transports));
        }
        if (res->service.u.service.flags & VX_SERVICE_F_ANYPORT)
            vx_ctl_reply_printf(r, "  ports:     any\n");
        else {
            vx_ctl_reply_printf(r, "  ports:    ");
            for (unsigned i = 0; i < res->service.u.service.n_ports; i++)
                vx_ctl_reply_printf(r, " %u", res->service.u.service.ports[i]);
            vx_ctl_reply_printf(r, "\n");
        }
        vx_ctl_reply_printf(r, "  route:     %s\n",
                            route_policy_name(res->service.u.service.flags));
        vx_ctl_reply_printf(r, "  service:   seq %llu, expires in %llds\n",
                            (unsigned long long)res->service.seq,
                            (long long)(res->service.expires - now));
        vx_ctl_reply_printf(r, "  node:      seq %llu, expires in %llds\n",
                            (unsigned long long)res->node.seq,
                            (long long)(res->node.expires - now));
        vx_ctl_reply_printf(r, "  found:     %s\n", res->how);
    }
    vx_ctl_reply_finish(r);
    free(rq);
}

static int cmd_resolve(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_discovery *ds = arg;
    struct resolve_req *rq = calloc(1, sizeof(*rq));
    char why[256];
    int rc, err = 0;

    if (!rq)
        abort();
    rq->r = r;
    rq->ds = ds;
    snprintf(rq->name, sizeof(rq->name), "%s", req->argv[0]);
    rc = name_to_service(ds, req->argv[0], rq->user, rq->service, why, sizeof(why));
    if (rc < 0) {
        free(rq);
        return vx_ctl_reply_error(r, rc, "%s", why);
    }
    rq->lk = vx_discovery_resolve(
            ds, rq->user, rq->service,
            req->argc > 1 && strcmp(req->argv[1], "fresh") == 0 ? VX_DISCO_FRESH : 0, resolve_done,
            rq, &err);
    if (!rq->lk) {
        free(rq);
        return vx_ctl_reply_error(r, err, "cannot resolve %s: %s", req->argv[0], vx_strerror(err));
    }
    vx_ctl_reply_on_cancel(r, resolve_cancelled, rq);
    return VX_CTL_PENDING;
}

static int cmd_trust(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_discovery *ds = arg;
    uint8_t pk[VX_PK_LEN], old[VX_PK_LEN];
    const struct vx_registry_pin *pin;
    char hs[2 * VX_PK_LEN + 1], ho[2 * VX_PK_LEN + 1];
    int had, rc;

    if (vx_label_check(req->argv[0]) < 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR, "'%s' is not a valid user name", req->argv[0]);
    if (vx_discovery_parse_key(req->argv[1], pk) < 0)
        return vx_ctl_reply_error(r, VX_ERR_BADADDR,
                                  "'%s' is not a key (64 hex digits as 'vx6 resolve' prints)",
                                  req->argv[1]);
    pin = vx_registry_pin_get(ds->reg, req->argv[0]);
    had = pin != NULL;
    if (had)
        memcpy(old, pin->pk, VX_PK_LEN);
    rc = vx_registry_trust(ds->reg, req->argv[0], pk, vx_time_unix());
    if (rc < 0)
        return vx_ctl_reply_error(r, rc, "cannot pin %s: %s", req->argv[0], vx_strerror(rc));
    /* the cached records of the old key are worthless now */
    save_registry(ds, "trust");
    hex(pk, VX_PK_LEN, hs);
    hex(old, had ? VX_PK_LEN : 0, ho);
    log_notice(LD_REGISTRY, "user %s pinned to key %s%s%s (vx6 trust)", req->argv[0], hs,
               had ? ", was " : "", had ? ho : "");
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "user", req->argv[0]);
        vx_json_kv_str(j, "key", hs);
        vx_json_kv_str(j, "previous", had ? ho : NULL);
        vx_json_obj_end(j);
    } else if (had && memcmp(old, pk, VX_PK_LEN) != 0)
        vx_ctl_reply_printf(r, "user %s now pinned to %s (was %s)\n", req->argv[0], hs, ho);
    else
        vx_ctl_reply_printf(r, "user %s pinned to %s\n", req->argv[0], hs);
    return 0;
}

struct peers_ctx {
    struct vx_discovery *ds;
    struct vx_ctl_reply *r;
    struct vx_json *j;
    uint64_t now_ms;
    size_t n;
};

static int peers_row(const struct vx_rt_contact *c, void *arg)
{
    struct peers_ctx *pc = arg;
    char id[VX_NODE_ID_STRLEN + 1], addr[VX_ADDR_STRLEN];
    const struct vx_registry_peer *rp = vx_registry_peer_get(pc->ds->reg, c->id);
    uint64_t ago = pc->now_ms > c->last_seen_ms ? (pc->now_ms - c->last_seen_ms) / 1000 : 0;

    vx_node_id_to_str(c->id, id, sizeof(id));
    vx_dhtaddr_format(&c->addr, addr, sizeof(addr));
    pc->n++;
    if (pc->j) {
        vx_json_obj_begin(pc->j);
        vx_json_kv_str(pc->j, "node_id", id);
        vx_json_kv_str(pc->j, "address", addr);
        vx_json_kv_uint(pc->j, "last_seen_s_ago", ago);
        vx_json_kv_uint(pc->j, "rtt_ms", c->rtt_ms);
        vx_json_kv_bool(pc->j, "confirmed", c->confirmed);
        vx_json_kv_uint(pc->j, "fails", c->fails);
        vx_json_kv_bool(pc->j, "in_registry", rp != NULL);
        vx_json_obj_end(pc->j);
    } else {
        vx_ctl_reply_printf(pc->r, "%s  %-42s %5llus ago  %5u ms%s\n", id, addr,
                            (unsigned long long)ago, c->rtt_ms,
                            c->confirmed ? "" : "  (unconfirmed)");
    }
    return 0;
}

static int cmd_peers(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_discovery *ds = arg;
    struct peers_ctx pc = {.ds = ds, .r = r, .now_ms = vx_time_mono_ms()};
    struct vx_registry_stats rs;
    (void)req;

    vx_registry_stats(ds->reg, &rs);
    if (vx_ctl_reply_is_json(r)) {
        pc.j = vx_ctl_reply_json(r);
        vx_json_obj_begin(pc.j);
        vx_json_key(pc.j, "routing_table");
        vx_json_arr_begin(pc.j);
        vx_dht_foreach_peer(ds->dht, peers_row, &pc);
        vx_json_arr_end(pc.j);
        vx_json_kv_uint(pc.j, "registry_peers", rs.peers);
        vx_json_obj_end(pc.j);
        return 0;
    }
    vx_ctl_reply_printf(r, "%-52s  %-42s %10s  %8s\n", "NODE ID", "ADDRESS", "LAST SEEN", "RTT");
    vx_dht_foreach_peer(ds->dht, peers_row, &pc);
    vx_ctl_reply_printf(r, "%zu peer%s in the routing table, %zu in the registry\n", pc.n,
                        pc.n == 1 ? "" : "s", rs.peers);
    return 0;
}

static int cmd_publish(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_discovery *ds = arg;
    const struct vx_config *cfg = vx_daemon_config(ds->d);
    const struct vx_cfg_service *s = vx_config_find_service(cfg, req->argv[0]);
    int publish = strcmp(req->cmd, "publish") == 0;

    if (!s)
        return vx_ctl_reply_error(r, VX_ERR_NOTFOUND,
                                  "no service '%s' in the configuration (services: are configured "
                                  "in vx6.yaml)",
                                  req->argv[0]);
    if (s->hidden)
        return vx_ctl_reply_error(r, VX_ERR_INVAL,
                                  "service '%s' is hidden: it has no public record", s->name);
    if (!cfg->user)
        return vx_ctl_reply_error(r, VX_ERR_CONFIG,
                                  "no 'user' in the configuration: services cannot be published "
                                  "by name");
    if (publish) {
        for (size_t i = 0; i < ds->n_unpublished; i++)
            if (strcmp(ds->unpublished[i], s->name) == 0) {
                memmove(ds->unpublished[i], ds->unpublished[i + 1],
                        (ds->n_unpublished - i - 1) * sizeof(ds->unpublished[0]));
                ds->n_unpublished--;
                break;
            }
    } else if (!is_unpublished(ds, s->name)) {
        if (ds->n_unpublished == MAX_UNPUBLISHED)
            return vx_ctl_reply_error(r, VX_ERR_LIMIT, "too many unpublished services");
        snprintf(ds->unpublished[ds->n_unpublished++], VX_LABEL_MAX + 1, "%s", s->name);
    }
    sync_services(ds, cfg, 1);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "service", s->name);
        vx_json_kv_bool(j, "published", publish);
        vx_json_obj_end(j);
    } else
        vx_ctl_reply_printf(r, "%s.%s.vx6 %s\n", cfg->user, s->name,
                            publish ? "published" : "withdrawn (until 'vx6 publish' or a restart)");
    return 0;
}

struct alias_list_ctx {
    struct vx_ctl_reply *r;
    struct vx_json *j;
};

static int alias_row(const char *name, const char *target, int from_config, void *arg)
{
    struct alias_list_ctx *ac = arg;
    if (ac->j) {
        vx_json_obj_begin(ac->j);
        vx_json_kv_str(ac->j, "name", name);
        vx_json_kv_str(ac->j, "target", target);
        vx_json_kv_str(ac->j, "source", from_config ? "config" : "registry");
        vx_json_obj_end(ac->j);
    } else
        vx_ctl_reply_printf(ac->r, "%s.vx6 -> %s%s\n", name, target,
                            from_config ? "  (config)" : "");
    return 0;
}

static int cmd_alias(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_discovery *ds = arg;
    const char *sub = req->argc ? req->argv[0] : "list";
    int rc;

    if (strcmp(sub, "list") == 0 && req->argc <= 1) {
        struct alias_list_ctx ac = {.r = r};
        if (vx_ctl_reply_is_json(r)) {
            ac.j = vx_ctl_reply_json(r);
            vx_json_arr_begin(ac.j);
            vx_discovery_foreach_alias(ds, alias_row, &ac);
            vx_json_arr_end(ac.j);
        } else
            vx_discovery_foreach_alias(ds, alias_row, &ac);
        return 0;
    }
    if (strcmp(sub, "add") == 0 && req->argc == 3) {
        char target[VX_ALIAS_TARGET_MAX + 1];
        size_t l = strlen(req->argv[2]);
        snprintf(target, sizeof(target), "%s", req->argv[2]);
        if (l > 4 && strcasecmp(target + l - 4, ".vx6") == 0)
            target[l - 4] = '\0';
        if (vx_label_check(req->argv[1]) < 0)
            return vx_ctl_reply_error(r, VX_ERR_BADADDR, "'%s' is not a valid alias name",
                                      req->argv[1]);
        rc = vx_registry_alias_set(ds->reg, req->argv[1], target);
        if (rc < 0)
            return vx_ctl_reply_error(r, rc, "cannot add alias %s: %s", req->argv[1],
                                      vx_strerror(rc));
    } else if ((strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) && req->argc == 2) {
        rc = vx_registry_alias_remove(ds->reg, req->argv[1]);
        if (rc < 0)
            return vx_ctl_reply_error(r, rc, "no alias '%s' in the registry%s", req->argv[1],
                                      vx_discovery_alias(ds, req->argv[1])
                                              ? " (it is defined in the configuration)"
                                              : "");
    } else {
        return vx_ctl_reply_error(r, VX_ERR_INVAL,
                                  "usage: alias list | alias add NAME TARGET | alias rm NAME");
    }
    save_registry(ds, "alias");
    if (ds->alias_fn)
        ds->alias_fn(ds->alias_arg);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "alias", req->argv[1]);
        vx_json_kv_str(j, "target",
                       req->argc == 3 ? vx_registry_alias_get(ds->reg, req->argv[1]) : NULL);
        vx_json_obj_end(j);
    } else if (req->argc == 3)
        vx_ctl_reply_printf(r, "%s.vx6 -> %s\n", req->argv[1],
                            vx_registry_alias_get(ds->reg, req->argv[1]));
    else
        vx_ctl_reply_printf(r, "alias %s removed\n", req->argv[1]);
    return 0;
}

static const struct vx_ctl_command disco_cmds[] = {
        {"resolve", "NAME [fresh]",
         "look up USER.SERVICE (or an alias): node, endpoints, ports, key and pin", 1, 2,
         cmd_resolve},
        {"trust", "USER KEY", "pin USER to KEY, replacing a previous pin", 2, 2, cmd_trust},
        {"peers", NULL, "DHT routing-table peers", 0, 0, cmd_peers},
        {"publish", "SERVICE", "publish a configured service's record", 1, 1, cmd_publish},
        {"unpublish", "SERVICE", "withdraw a configured service's record", 1, 1, cmd_publish},
        {"alias", "[list | add NAME TARGET | rm NAME]", "petnames for .vx6 names", 0, 3, cmd_alias},
};

/* ---- module hooks ------------------------------------------------------ */

static int bootstrap_addrs(const struct vx_config *cfg, struct sockaddr_storage **out)
{
    struct sockaddr_storage *a = calloc(cfg->n_bootstrap + 1, sizeof(*a));
    if (!a)
        abort();
    for (size_t i = 0; i < cfg->n_bootstrap; i++)
        memcpy(&a[i], &cfg->bootstrap[i].addr.ss, sizeof(a[i]));
    *out = a;
    return (int)cfg->n_bootstrap;
}

static int disco_start(struct vx_daemon *d, void *arg)
{
    struct vx_discovery *ds = arg;
    const struct vx_config *cfg = vx_daemon_config(d);
    struct vx_dht_conf conf;
    struct sockaddr_storage *boot;
    const char *env;
    int rc, nb;

    ds->d = d;
    ds->loop = vx_daemon_loop(d);
    ds->id = vx_daemon_identity(d);
    ds->lifetime_s = VX_DISCO_LIFETIME_S;
    env = getenv("VX6_RECORD_LIFETIME");
    if (env && *env) {
        unsigned long v = strtoul(env, NULL, 10);
        if (v >= 10 && v <= VX_RECORD_MAX_LIFETIME)
            ds->lifetime_s = (uint32_t)v;
    }

    /* registry */
    if (vx_path_join(ds->reg_path, sizeof(ds->reg_path), cfg->data_dir, VX_REGISTRY_FILE) < 0)
        return VX_ERR_TOOBIG;
    ds->reg = vx_registry_new(ds->reg_path);
    rc = vx_registry_load(ds->reg, vx_time_unix());
    if (rc == VX_ERR_CORRUPT)
        log_warn(LD_REGISTRY,
                 "registry %s was damaged: moved aside as registry.corrupt-*, starting with an "
                 "empty one (peers and pins are learnt again)",
                 ds->reg_path);
    else if (rc == VX_ERR_VERSION)
        log_warn(LD_REGISTRY,
                 "registry %s was written by a newer vx6d: using it read-only (not saved)",
                 ds->reg_path);
    else if (rc < 0)
        log_warn(LD_REGISTRY, "cannot read the registry %s: %s; starting empty", ds->reg_path,
                 rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
    else {
        struct vx_registry_stats st;
        vx_registry_stats(ds->reg, &st);
        log_info(LD_REGISTRY, "registry: %zu peers, %zu services, %zu pins, %zu aliases", st.peers,
                 st.services, st.pins, st.aliases);
    }

    /* DHT on the node port */
    vx_dht_conf_default(&conf);
    env = getenv("VX6_DHT_PREFIX_LIMIT");
    if (env && *env)
        conf.core.prefix_limit = (unsigned)strtoul(env, NULL, 10);
    conf.core.lookup_timeout_ms = VX_DISCO_RESOLVE_MS / 3;
    /* limits.dht_rate: requests per second from one source (IPv6 /64 or
     * IPv4 address). */
    conf.core.query_per_s = cfg->limits.dht_rate;
    conf.core.query_burst = 10 * conf.core.query_per_s; /* bursts pass, floods do not */
    ds->dht = vx_dht_new(ds->loop, ds->id, ds->reg, &conf);
    vx_daemon_publish(d, VX_OBJ_DHT, ds->dht); /* metrics */
    if (ds->start_fn)
        ds->start_fn(ds, ds->dht, ds->start_arg);
    {
        struct sockaddr_storage ss;
        socklen_t sl;
        char a[VX_ADDR_STRLEN];
        if (vx_dht_local_addr(ds->dht, &ss, &sl) == 0) {
            vx_addr_format((struct sockaddr *)&ss, sl, a, sizeof(a));
            log_info(LD_DHT, "DHT shares the QUIC socket on %s (UDP)", a);
        } else if (cfg->n_listen) {
            vx_addr_format((const struct sockaddr *)&cfg->listen[0].ss, cfg->listen[0].len, a,
                           sizeof(a));
            rc = vx_dht_listen(ds->dht, (const struct sockaddr *)&cfg->listen[0].ss,
                               cfg->listen[0].len);
            if (rc < 0) {
                log_err(LD_DHT, "cannot open the DHT's UDP socket on %s: %s", a,
                        rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
                return rc;
            }
            log_info(LD_DHT, "DHT listening on %s (UDP)", a);
        }
    }
    ds->running = 1;

    publish_endpoints(ds, 0);
    if (cfg->user)
        publish_username(ds, cfg->user);
    sync_services(ds, cfg, 0);

    nb = bootstrap_addrs(cfg, &boot);
    vx_dht_bootstrap(ds->dht, boot, (size_t)nb);
    free(boot);

    for (size_t i = 0; i < sizeof(disco_cmds) / sizeof(disco_cmds[0]); i++)
        vx_control_register(vx_daemon_control(d), &disco_cmds[i], ds);

    rc = vx_netwatch_new(ds->loop, VX_NETWATCH_DEBOUNCE_MS, addresses_changed, ds, &ds->nw);
    if (rc < 0)
        log_notice(LD_NET,
                   "cannot watch for address changes (%s): the node record follows "
                   "only restarts and reloads",
                   strerror(errno));

    if (ds->alias_fn) /* a path attached before we started */
        ds->alias_fn(ds->alias_arg);

    ev_timer_init(&ds->save_timer, save_cb, VX_DISCO_SAVE_S, VX_DISCO_SAVE_S);
    ds->save_timer.data = ds;
    ev_timer_start(ds->loop, &ds->save_timer);
    ev_timer_init(&ds->sync_timer, sync_cb, 5., VX_DISCO_SYNC_S);
    ds->sync_timer.data = ds;
    ev_timer_start(ds->loop, &ds->sync_timer);
    return 0;
}

static void disco_apply(struct vx_daemon *d, const struct vx_config *old_cfg,
                        const struct vx_config *new_cfg, void *arg)
{
    struct vx_discovery *ds = arg;
    (void)d;
    if (!ds->running)
        return;
    if (old_cfg->n_listen && new_cfg->n_listen &&
        vx_addr_cmp((const struct sockaddr *)&old_cfg->listen[0].ss,
                    (const struct sockaddr *)&new_cfg->listen[0].ss) != 0)
        log_notice(LD_CONFIG, "the DHT stays on its UDP port until vx6d restarts");
    publish_endpoints(ds, 1);
    publish_username(ds, new_cfg->user);
    sync_services(ds, new_cfg, 1);
    if (new_cfg->n_bootstrap) {
        struct sockaddr_storage *boot;
        int nb = bootstrap_addrs(new_cfg, &boot);
        vx_dht_bootstrap(ds->dht, boot, (size_t)nb);
        free(boot);
    }
    if (ds->alias_fn)
        ds->alias_fn(ds->alias_arg);
}

static void disco_stats(struct vx_daemon_stats *st, void *arg)
{
    struct vx_discovery *ds = arg;
    struct vx_dht_stats s;
    if (!ds->running)
        return;
    vx_dht_stats(ds->dht, &s);
    st->peers += s.core.contacts;
}

static void disco_stop(void *arg)
{
    struct vx_discovery *ds = arg;
    if (!ds->running)
        return;
    ev_timer_stop(ds->loop, &ds->sync_timer);
    save_registry(ds, "stop");
}

static void disco_free(void *arg)
{
    struct vx_discovery *ds = arg;
    if (!ds)
        return;
    if (ds->running) {
        save_registry(ds, "stop");
        for (size_t i = 0; i < sizeof(disco_cmds) / sizeof(disco_cmds[0]); i++)
            vx_control_unregister(vx_daemon_control(ds->d), disco_cmds[i].name);
    }
    vx_discovery_attach_path(ds, NULL, NULL); /* the path and QUIC outlive us */
    vx_netwatch_free(ds->nw);
    if (ds->loop) {
        ev_timer_stop(ds->loop, &ds->save_timer);
        ev_timer_stop(ds->loop, &ds->sync_timer);
    }
    if (ds->d && ds->dht)
        vx_daemon_publish(ds->d, VX_OBJ_DHT, NULL);
    vx_dht_free(ds->dht); /* outstanding DHT callbacks are dropped */
    /* Pending resolutions end now, with an error (their owners may be
     * freed after us and must not hold a handle to a freed lookup). */
    for (struct vx_disco_lookup *lk = ds->lookups; lk; lk = lk->next)
        lk->dht_pending = 0;
    while (ds->lookups) {
        struct vx_disco_lookup *lk = ds->lookups;
        if (lk->finished)
            lookup_unlink_free(lk);
        else
            lookup_finish(lk, VX_ERR_CLOSED);
    }
    vx_registry_free(ds->reg);
    free(ds->svcs);
    free(ds);
}

const struct vx_daemon_module_ops vx_discovery_module = {
        .name = "discovery",
        .start = disco_start,
        .apply_config = disco_apply,
        .stats = disco_stats,
        .stop = disco_stop,
        .free = disco_free,
};

struct vx_discovery *vx_discovery_new(void)
{
    struct vx_discovery *ds = calloc(1, sizeof(*ds));
    if (!ds)
        abort();
    return ds;
}
