/* pathmod.c — relay circuits and hidden services in vx6d.  See pathmod.h. */
#include "daemon/pathmod.h"

#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/discovery.h"
#include "daemon/gateway.h"
#include "daemon/gatewaymod.h"
#include "dht/dht.h"
#include "hidden/descriptor.h"
#include "hidden/hsaddr.h"
#include "hidden/hsconn.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "path/circuit.h"
#include "path/path.h"
#include "registry/registry.h"
#include "service/service.h"

#define POOL_FAST_S   2.0  /* refresh interval while the pool is small */
#define POOL_SLOW_S   15.0 /* ...and once it is not */
#define POOL_SMALL    8
#define SYNC_PER_TICK 8 /* NODE records looked up per refresh */

struct hsvc {
    struct vx_identity key;
    const struct vx_service_def *def; /* into m->defs */
    struct vx_hs_service *s;
    char err[128]; /* why it does not run, for `hidden status` */
};

/* A hidden_auth entry: the client-authorization key for one address. */
struct hsauth {
    char address[VX_HSADDR_LEN + 1];
    char source[128]; /* "identity" or the key file */
    char pk_hex[2 * VX_PK_LEN + 1];
    char err[128]; /* why it is not used */
};

struct vx_pathmod {
    struct vx_daemon *d;
    struct ev_loop *loop;
    struct vx_gateway *gw;
    struct vx_discovery *ds; /* NULL: no DHT, no hidden services */
    struct vx_relay *relay;
    struct vx_hs_connector *conn;
    struct vx_service_def *defs; /* one block (vx_gateway_service_defs) */
    struct hsvc *hs;
    size_t nhs;
    struct hsauth *auth; /* hidden_auth, as the connector has it */
    size_t nauth;
    int hs_started;
    uint64_t started_ms;
    ev_timer pool_timer;
    size_t npool;
    int deferred; /* freeing waits for the gateway's free hook */
};

struct vx_pathmod *vx_pathmod_new(void)
{
    struct vx_pathmod *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    return m;
}

struct vx_relay *vx_pathmod_relay(const struct vx_pathmod *m)
{
    return m ? m->relay : NULL;
}

/* ---- accept dispatcher --------------------------------------------------- */

static void dispatch(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    struct vx_pathmod *m = arg;
    if (tgt->kind == VX_TARGET_RELAY)
        vx_relay_accept(s, tgt, m->relay);
    else
        vx_services_accept(s, tgt, vx_gateway_services(m->gw));
}

/* ---- relay pool ---------------------------------------------------------- */

static int ep_to_sa(const struct vx_endpoint *ep, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (ep->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, ep->addr, 16);
        s6->sin6_port = htons(ep->port);
        *len = sizeof(*s6);
        return 0;
    }
    if (ep->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ep->addr, 4);
        s4->sin_port = htons(ep->port);
        *len = sizeof(*s4);
        return 0;
    }
    return VX_ERR_INVAL;
}

/* Does ep match sa (address and port)? */
static int ep_matches(const struct vx_endpoint *ep, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6 && ep->family == 6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        return !memcmp(&s6->sin6_addr, ep->addr, 16) && ntohs(s6->sin6_port) == ep->port;
    }
    if (sa->sa_family == AF_INET && ep->family == 4) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return !memcmp(&s4->sin_addr, ep->addr, 4) && ntohs(s4->sin_port) == ep->port;
    }
    return 0;
}

struct addr_find {
    const struct sockaddr *sa;
    const uint8_t *self;
    uint8_t pk[VX_PK_LEN];
    int found;
};

static int addr_find_cb(const struct vx_registry_peer *p, void *arg)
{
    struct addr_find *af = arg;
    if (!memcmp(p->rec.u.node.node_id, af->self, VX_NODE_ID_LEN))
        return 0;
    for (unsigned i = 0; i < p->rec.u.node.n_endpoints; i++) {
        if (ep_matches(&p->rec.u.node.endpoints[i], af->sa)) {
            memcpy(af->pk, p->rec.signer, VX_PK_LEN);
            af->found = 1;
            return 1;
        }
    }
    return 0;
}

/* vx_path_key_fn: the destination's key from its NODE record. */
static int key_of(void *arg, const uint8_t *node_id, const struct sockaddr *addr, socklen_t addrlen,
                  uint8_t pk[VX_PK_LEN])
{
    struct vx_pathmod *m = arg;
    struct vx_registry *reg = m->ds ? vx_discovery_registry(m->ds) : NULL;
    (void)addrlen;
    if (!reg)
        return VX_ERR_NOTFOUND;
    if (node_id) {
        const struct vx_registry_peer *p = vx_registry_peer_get(reg, node_id);
        if (!p)
            return VX_ERR_NOTFOUND;
        memcpy(pk, p->rec.signer, VX_PK_LEN);
        return 0;
    }
    struct addr_find af = {.sa = addr, .self = vx_daemon_identity(m->d)->node_id};
    vx_registry_foreach_peer(reg, addr_find_cb, &af);
    if (!af.found)
        return VX_ERR_NOTFOUND;
    memcpy(pk, af.pk, VX_PK_LEN);
    return 0;
}

struct sync_ctx {
    struct vx_registry *reg;
    uint8_t ids[SYNC_PER_TICK][VX_NODE_ID_LEN];
    size_t n;
};

static int sync_collect(const struct vx_rt_contact *c, void *arg)
{
    struct sync_ctx *sc = arg;
    if (sc->n < SYNC_PER_TICK && !vx_registry_peer_get(sc->reg, c->id))
        memcpy(sc->ids[sc->n++], c->id, VX_NODE_ID_LEN);
    return sc->n >= SYNC_PER_TICK;
}

static void sync_done(const struct vx_dht_result *res, void *arg)
{
    (void)res; /* the DHT files a found NODE record in the registry */
    (void)arg;
}

static void start_hidden(struct vx_pathmod *m);

static void pool_refresh(struct vx_pathmod *m)
{
    static struct vx_relay_cand pool[PATHMOD_POOL_MAX];
    const struct vx_registry_peer *best[PATHMOD_POOL_MAX];
    struct vx_registry *reg = m->ds ? vx_discovery_registry(m->ds) : NULL;
    struct vx_dht *dht = m->ds ? vx_discovery_dht(m->ds) : NULL;
    const uint8_t *self = vx_daemon_identity(m->d)->node_id;
    size_t n, np = 0;

    if (!reg)
        return;
    n = vx_registry_best_peers(reg, vx_time_unix(), best, PATHMOD_POOL_MAX);
    memset(pool, 0, sizeof(pool));
    for (size_t i = 0; i < n; i++) {
        const struct vx_record *rec = &best[i]->rec;
        struct vx_relay_cand *c = &pool[np];
        const struct vx_endpoint *ep = NULL;
        if (!memcmp(rec->u.node.node_id, self, VX_NODE_ID_LEN))
            continue;
        /* IPv6 first */
        for (unsigned k = 0; k < rec->u.node.n_endpoints; k++)
            if (rec->u.node.endpoints[k].family == 6) {
                ep = &rec->u.node.endpoints[k];
                break;
            }
        if (!ep && rec->u.node.n_endpoints)
            ep = &rec->u.node.endpoints[0];
        if (!ep || ep_to_sa(ep, &c->addr, &c->addrlen) < 0)
            continue;
        memcpy(c->pk, rec->signer, VX_PK_LEN);
        memcpy(c->id, rec->u.node.node_id, VX_NODE_ID_LEN);
        c->successes = best[i]->successes;
        c->failures = best[i]->failures;
        c->rtt_ms = best[i]->rtt_ms;
        c->last_seen = best[i]->last_seen;
        c->relay = 1;
        np++;
    }
    vx_relay_set_pool(m->relay, pool, np);
    if (np != m->npool)
        log_debug(LD_PATH, "relay pool: %zu candidate(s)", np);
    m->npool = np;

    /* contacts the registry has no NODE record of: look them up */
    if (dht) {
        struct sync_ctx sc = {.reg = reg};
        vx_dht_foreach_peer(dht, sync_collect, &sc);
        for (size_t i = 0; i < sc.n; i++)
            vx_dht_find_node(dht, sc.ids[i], sync_done, NULL);
    }
}

static void pool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_pathmod *m = w->data;
    (void)revents;
    pool_refresh(m);
    if (!m->hs_started && m->nhs &&
        (m->npool >= VX_HSDESC_MAX_INTROS ||
         vx_time_mono_ms() - m->started_ms >= PATHMOD_HS_WAIT_S * 1000ULL))
        start_hidden(m);
    w->repeat = m->npool < POOL_SMALL ? POOL_FAST_S : POOL_SLOW_S;
    ev_timer_again(loop, w);
}

/* ---- hidden services ------------------------------------------------------ */

static unsigned profile_relays(enum vx_cfg_profile p)
{
    return p == VX_CFG_PROFILE_BALANCED ? VX_HS_PROFILE_BALANCED : VX_HS_PROFILE_FAST;
}

static void free_hidden(struct vx_pathmod *m)
{
    for (size_t i = 0; i < m->nhs; i++) {
        vx_hs_service_free(m->hs[i].s);
        vx_identity_wipe(&m->hs[i].key);
    }
    free(m->hs);
    m->hs = NULL;
    m->nhs = 0;
    free(m->defs);
    m->defs = NULL;
    m->hs_started = 0;
}

/* Load the keys of cfg's hidden services (creating missing ones); they
 * start later (start_hidden). */
static void setup_hidden(struct vx_pathmod *m, const struct vx_config *cfg)
{
    size_t n = 0, k = 0;
    if (!m->ds)
        return;
    if (vx_gateway_service_defs(cfg, &m->defs, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        k += m->defs[i].hidden;
    if (!k)
        return;
    m->hs = calloc(k, sizeof(*m->hs));
    if (!m->hs)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct hsvc *h;
        int created = 0, r;
        if (!m->defs[i].hidden)
            continue;
        h = &m->hs[m->nhs++];
        h->def = &m->defs[i];
        r = vx_hs_key_load(&h->key, cfg->data_dir, h->def->name, 1, &created);
        if (r < 0) {
            snprintf(h->err, sizeof(h->err), "key %s/hidden/%s.key: %s", cfg->data_dir,
                     h->def->name, vx_strerror(r));
            log_err(LD_PATH, "hidden service %s not started: %s", h->def->name, h->err);
            continue;
        }
        if (created)
            log_notice(LD_PATH, "hidden service %s: new key in %s/hidden/%s.key", h->def->name,
                       cfg->data_dir, h->def->name);
    }
}

/* ---- client authorization (hidden_auth) ------------------------------------ */

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Give the connector the keys of cfg's hidden_auth (forgetting the old
 * ones).  A key file that cannot be read is logged and shown by `hidden
 * status`; connections to that address then get "missing client auth". */
static void setup_auth(struct vx_pathmod *m, const struct vx_config *cfg)
{
    for (size_t i = 0; i < m->nauth; i++)
        vx_hs_connector_set_auth(m->conn, m->auth[i].address, NULL);
    free(m->auth);
    m->auth = NULL;
    m->nauth = 0;
    if (!m->conn || !cfg->n_hidden_auth) {
        if (m->conn)
            vx_hs_connector_flush(m->conn);
        return;
    }
    m->auth = calloc(cfg->n_hidden_auth, sizeof(*m->auth));
    if (!m->auth)
        abort();
    for (size_t i = 0; i < cfg->n_hidden_auth; i++) {
        const struct vx_cfg_hidden_auth *ca = &cfg->hidden_auth[i];
        struct hsauth *a = &m->auth[m->nauth++];
        struct vx_identity key;
        int r = 0;
        snprintf(a->address, sizeof(a->address), "%s", ca->address);
        snprintf(a->source, sizeof(a->source), "%s", ca->key_file ? ca->key_file : "identity");
        if (ca->key_file)
            r = vx_identity_load(&key, ca->key_file);
        else
            key = *vx_daemon_identity(m->d);
        if (r == 0) {
            hex_of(key.pk, VX_PK_LEN, a->pk_hex);
            r = vx_hs_connector_set_auth(m->conn, a->address, key.x_sk);
        }
        vx_identity_wipe(&key);
        if (r < 0) {
            snprintf(a->err, sizeof(a->err), "%s", vx_strerror(r));
            log_err(LD_PATH, "client authorization for %s.vx6: key %s: %s", a->address, a->source,
                    a->err);
            continue;
        }
        log_info(LD_PATH, "client authorization for %s.vx6: key %s (public key %s)", a->address,
                 a->source, a->pk_hex);
    }
    vx_hs_connector_flush(m->conn);
}

static void start_hidden(struct vx_pathmod *m)
{
    const struct vx_config *cfg = vx_daemon_config(m->d);
    struct vx_dht *dht = m->ds ? vx_discovery_dht(m->ds) : NULL;
    m->hs_started = 1;
    if (!dht)
        return;
    for (size_t i = 0; i < m->nhs; i++) {
        struct hsvc *h = &m->hs[i];
        const struct vx_cfg_service *cs = vx_config_find_service(cfg, h->def->name);
        struct vx_hs_serve_conf sc = {.profile = profile_relays(cs ? cs->profile : 0)};
        uint8_t(*clients)[VX_X25519_LEN] = NULL;
        char a[VX_HSADDR_LEN + 1];
        if (h->err[0] || h->s)
            continue;
        if (cs && cs->n_clients) {
            clients = calloc(cs->n_clients, sizeof(*clients));
            if (!clients)
                abort();
            for (size_t k = 0; k < cs->n_clients; k++)
                memcpy(clients[k], cs->clients[k].x25519, VX_X25519_LEN);
            sc.clients = (const uint8_t(*)[VX_X25519_LEN])clients;
            sc.n_clients = cs->n_clients;
        }
        h->s = vx_hs_serve(m->relay, dht, &h->key, h->def, &sc);
        free(clients);
        vx_hsaddr_format(h->key.pk, a, sizeof(a));
        log_notice(LD_PATH, "hidden service %s: %s.vx6, building intro points (%zu relays known)",
                   h->def->name, a, m->npool);
    }
}

/* ---- `hidden status` ------------------------------------------------------ */

static void fmt_time(uint64_t unix_s, char *out, size_t cap)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!unix_s || !gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "-");
}

static int cmd_hidden(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_pathmod *m = arg;
    struct vx_json *j = vx_ctl_reply_is_json(r) ? vx_ctl_reply_json(r) : NULL;
    const struct vx_config *cfg = vx_daemon_config(m->d);

    if (strcmp(req->argv[0], "status") != 0)
        return vx_ctl_reply_error(r, VX_ERR_INVAL, "unknown 'hidden' verb '%s' (status)",
                                  req->argv[0]);
    if (j)
        vx_json_arr_begin(j);
    else if (!m->ds)
        vx_ctl_reply_printf(r, "hidden services need the DHT, which is not running\n");
    else if (m->nhs == 0)
        vx_ctl_reply_printf(r, "no hidden services (set 'hidden: true' on a service)\n");
    for (size_t i = 0; i < m->nhs; i++) {
        const struct hsvc *h = &m->hs[i];
        struct vx_hs_service_status st;
        char a[VX_HSADDR_LEN + 8] = "-", when[32], since[32];
        const struct vx_cfg_service *cs = vx_config_find_service(cfg, h->def->name);
        uint8_t ids[VX_HSDESC_MAX_INTROS][VX_NODE_ID_LEN];
        char inid[VX_HSDESC_MAX_INTROS][VX_NODE_ID_STRLEN + 1];
        size_t nin = 0;
        memset(&st, 0, sizeof(st));
        if (h->s) {
            vx_hs_service_status(h->s, &st);
            nin = vx_hs_service_intros(h->s, ids, VX_HSDESC_MAX_INTROS);
        }
        for (size_t k = 0; k < nin; k++)
            vx_node_id_to_str(ids[k], inid[k], sizeof(inid[k]));
        if (!h->err[0]) {
            vx_hsaddr_format(h->key.pk, a, sizeof(a));
            strcat(a, ".vx6");
        }
        const char *state = h->err[0]      ? "error"
                            : !h->s        ? "waiting for relays"
                            : st.published ? "published"
                                           : "building";
        fmt_time(st.reachable_unix, when, sizeof(when));
        fmt_time(st.started_unix, since, sizeof(since));
        if (j) {
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "name", h->def->name);
            vx_json_kv_str(j, "address", h->err[0] ? NULL : a);
            vx_json_kv_str(j, "state", state);
            vx_json_kv_bool(j, "published", st.published != 0);
            vx_json_kv_str(j, "error", h->err[0] ? h->err : NULL);
            vx_json_kv_uint(j, "started_unix", st.started_unix);
            vx_json_kv_uint(j, "reachable_unix", st.reachable_unix);
            vx_json_kv_uint(j, "reachable_ms", st.reachable_ms);
            vx_json_kv_uint(j, "revision", st.revision);
            vx_json_kv_uint(j, "publishes", st.publishes);
            vx_json_kv_uint(j, "intros_active", st.active);
            vx_json_kv_uint(j, "intros_standby", st.standby);
            vx_json_kv_uint(j, "intros_building", st.building);
            vx_json_kv_uint(j, "intro_changes", st.intro_changes);
            vx_json_kv_uint(j, "introduces", st.introduces);
            vx_json_kv_uint(j, "replays", st.replays);
            vx_json_kv_uint(j, "bad_introduces", st.bad_introduces);
            vx_json_kv_uint(j, "rendezvous_ok", st.rend_ok);
            vx_json_kv_uint(j, "rendezvous_failed", st.rend_failed);
            vx_json_kv_uint(j, "streams", st.streams);
            vx_json_kv_uint(j, "authorized_clients", cs ? cs->n_clients : 0);
            vx_json_key(j, "intro_points");
            vx_json_arr_begin(j);
            for (size_t k = 0; k < nin; k++) {
                vx_json_obj_begin(j);
                vx_json_kv_str(j, "node_id", inid[k]);
                vx_json_kv_bool(j, "standby", k >= VX_HSDESC_ACTIVE);
                vx_json_obj_end(j);
            }
            vx_json_arr_end(j);
            vx_json_obj_end(j);
            continue;
        }
        vx_ctl_reply_printf(r, "%s  %s\n", h->def->name, a);
        vx_ctl_reply_printf(r, "  state:        %s%s%s\n", state, h->err[0] ? ": " : "", h->err);
        if (!h->s)
            continue;
        vx_ctl_reply_printf(r, "  started:      %s\n", since);
        if (st.reachable_unix)
            vx_ctl_reply_printf(r, "  reachable:    %s (%llu ms after the start)\n", when,
                                (unsigned long long)st.reachable_ms);
        else
            vx_ctl_reply_printf(r, "  reachable:    not yet\n");
        vx_ctl_reply_printf(r,
                            "  descriptor:   revision %llu, published %llu time(s)\n"
                            "  intro points: %u active, %u standby, %u building, %llu replaced\n"
                            "  introduces:   %llu (%llu replays dropped, %llu bad)\n"
                            "  rendezvous:   %llu ok, %llu failed; %llu stream(s)\n",
                            (unsigned long long)st.revision, (unsigned long long)st.publishes,
                            st.active, st.standby, st.building,
                            (unsigned long long)st.intro_changes, (unsigned long long)st.introduces,
                            (unsigned long long)st.replays, (unsigned long long)st.bad_introduces,
                            (unsigned long long)st.rend_ok, (unsigned long long)st.rend_failed,
                            (unsigned long long)st.streams);
        if (cs && cs->n_clients)
            vx_ctl_reply_printf(r, "  clients:      %zu authorized (client authorization)\n",
                                cs->n_clients);
        for (size_t k = 0; k < nin; k++)
            vx_ctl_reply_printf(r, "  intro %zu:      %s%s\n", k + 1, inid[k],
                                k >= VX_HSDESC_ACTIVE ? " (standby)" : "");
    }
    for (size_t i = 0; !j && i < m->nauth; i++) {
        const struct hsauth *a = &m->auth[i];
        if (i == 0)
            vx_ctl_reply_printf(r, "client authorization (hidden_auth):\n");
        vx_ctl_reply_printf(r, "  %s.vx6  key %s: %s%s\n", a->address, a->source,
                            a->err[0] ? "error: " : "public key ", a->err[0] ? a->err : a->pk_hex);
    }
    if (j)
        vx_json_arr_end(j);
    return 0;
}

static const struct vx_ctl_command commands[] = {
        {"hidden", "status", "hidden services: publication, intro points, introduces", 1, 1,
         cmd_hidden},
};

/* ---- module hooks --------------------------------------------------------- */

static void relay_conf_of(const struct vx_config *cfg, struct vx_relay_conf *rc)
{
    vx_relay_conf_defaults(rc);
    rc->enabled = cfg->relay;
}

static int pm_start(struct vx_daemon *d, void *arg)
{
    struct vx_pathmod *m = arg;
    const struct vx_config *cfg = vx_daemon_config(d);
    struct vx_relay_conf rc;
    struct vx_transport *t;

    m->d = d;
    m->loop = vx_daemon_loop(d);
    m->gw = vx_gatewaymod_gateway(vx_daemon_module(d, VX_SLOT_TRANSPORT));
    if (!m->gw) {
        log_err(LD_PATH, "relay circuits need the node transport, which did not start");
        return VX_ERR_INTERNAL;
    }
    m->ds = vx_daemon_module(d, VX_SLOT_DHT);
    if (m->ds && !vx_discovery_dht(m->ds))
        m->ds = NULL;
    m->started_ms = vx_time_mono_ms();
    t = vx_gateway_transport(m->gw);
    relay_conf_of(cfg, &rc);
    m->relay = vx_relay_new(m->loop, t, vx_daemon_identity(d), &rc);
    vx_daemon_publish(d, VX_OBJ_RELAY, m->relay); /* metrics */
    vx_relay_set_services(m->relay, vx_gateway_services(m->gw));
    vx_transport_set_accept(t, dispatch, m);
    vx_path_set_relay(vx_gateway_path(m->gw), m->relay, cfg->relay_hops, key_of, m);
    {
        /* test knobs (vx6d(8)): route auto's direct budget and memory */
        const char *e1 = getenv("VX6_ROUTE_DIRECT_MS"), *e2 = getenv("VX6_ROUTE_MEMORY_MS");
        vx_path_set_auto_policy(vx_gateway_path(m->gw), e1 ? (uint32_t)strtoul(e1, NULL, 10) : 0,
                                e2 ? (uint32_t)strtoul(e2, NULL, 10) : 0);
    }
    /* the relay and connector go after the DHT, before the transport */
    vx_gateway_set_free_hook(m->gw, NULL, NULL);
    if (m->ds) {
        struct vx_hs_connector_conf kc = {0};
        m->conn = vx_hs_connector_new(m->relay, vx_discovery_dht(m->ds), &kc);
        vx_path_set_hidden(vx_gateway_path(m->gw), m->conn);
        setup_auth(m, cfg);
        setup_hidden(m, cfg);
    } else {
        log_info(LD_PATH, "no DHT: hidden services are off, relay circuits need known peers");
    }
    ev_timer_init(&m->pool_timer, pool_timer_cb, 0.5, POOL_FAST_S);
    m->pool_timer.data = m;
    ev_timer_start(m->loop, &m->pool_timer);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        vx_control_register(vx_daemon_control(d), &commands[i], m);
    log_info(LD_PATH, "relay circuits: %s for others, %u hops by default%s",
             cfg->relay ? "relaying" : "not relaying", cfg->relay_hops ? cfg->relay_hops : 3,
             m->nhs ? ", hidden services waiting for relays" : "");
    return 0;
}

/* The same authorized_clients (old: the running config's service)? */
static int clients_same(const struct vx_cfg_service *old, const struct vx_cfg_service *s)
{
    if (!old || old->n_clients != s->n_clients)
        return 0;
    for (size_t i = 0; i < s->n_clients; i++)
        if (strcmp(old->clients[i].s, s->clients[i].s))
            return 0;
    return 1;
}

/* Hidden service definitions equal (name, routes, authorized clients)? */
static int hidden_same(const struct vx_pathmod *m, const struct vx_config *old_cfg,
                       const struct vx_config *cfg)
{
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        if (!s->hidden)
            continue;
        if (k >= m->nhs || strcmp(m->hs[k].def->name, s->name))
            return 0;
        const struct vx_service_def *d = m->hs[k].def;
        if (d->has_target != s->has_target || d->nports != s->n_ports ||
            (s->has_target &&
             (d->target_len != s->target.len || memcmp(&d->target, &s->target.ss, s->target.len))))
            return 0;
        for (size_t p = 0; p < s->n_ports; p++)
            if (d->ports[p].vport != s->ports[p].vport ||
                d->ports[p].target_len != s->ports[p].target.len ||
                memcmp(&d->ports[p].target, &s->ports[p].target.ss, s->ports[p].target.len))
                return 0;
        if (!clients_same(vx_config_find_service(old_cfg, s->name), s))
            return 0;
        k++;
    }
    return k == m->nhs;
}

static void pm_apply(struct vx_daemon *d, const struct vx_config *old_cfg,
                     const struct vx_config *new_cfg, void *arg)
{
    struct vx_pathmod *m = arg;
    struct vx_relay_conf rc;
    (void)d;
    if (!m->relay)
        return;
    relay_conf_of(new_cfg, &rc);
    vx_relay_set_conf(m->relay, &rc);
    vx_path_set_relay(vx_gateway_path(m->gw), m->relay, new_cfg->relay_hops, key_of, m);
    if (m->conn && (old_cfg->n_hidden_auth || new_cfg->n_hidden_auth))
        setup_auth(m, new_cfg);
    if (m->ds && !hidden_same(m, old_cfg, new_cfg)) {
        int was = m->hs_started;
        log_notice(LD_PATH, "reload: hidden services changed, restarting them");
        free_hidden(m);
        setup_hidden(m, new_cfg);
        if (was)
            start_hidden(m);
    }
}

static void pm_release(void *arg)
{
    struct vx_pathmod *m = arg;
    vx_hs_connector_free(m->conn);
    free(m->auth);
    vx_relay_free(m->relay);
    free(m);
}

static void pm_free(void *arg)
{
    struct vx_pathmod *m = arg;
    if (m->loop)
        ev_timer_stop(m->loop, &m->pool_timer);
    /* services first: they unpublish through the DHT, still running */
    free_hidden(m);
    if (!m->gw) {
        free(m->auth);
        free(m);
        return;
    }
    vx_daemon_publish(m->d, VX_OBJ_RELAY, NULL);
    vx_path_set_hidden(vx_gateway_path(m->gw), NULL);
    vx_path_set_relay(vx_gateway_path(m->gw), NULL, 0, NULL, NULL);
    vx_transport_set_accept(vx_gateway_transport(m->gw), vx_services_accept,
                            vx_gateway_services(m->gw));
    /* The DHT module is freed after this one and the gateway after that: the
     * connector (whose cancelled resolves the DHT may still answer) and the
     * relay go from the gateway's free hook, between the two. */
    vx_gateway_set_free_hook(m->gw, pm_release, m);
}

const struct vx_daemon_module_ops vx_pathmod_ops = {
        .name = "path",
        .start = pm_start,
        .apply_config = pm_apply,
        .free = pm_free,
};
