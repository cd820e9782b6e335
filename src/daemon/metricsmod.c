/* metricsmod.c — the Prometheus endpoint and the collectors that read the
 * other modules' stats.  See metricsmod.h. */
#include "daemon/metricsmod.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/vxtime.h"
#include "front/front.h"
#include "path/circuit.h"
#include "path/path.h"
#include "service/service.h"
#include "transport/transport.h"
/* after transport.h: wire/record.h #defines VX_TRANSPORT_TCP/QUIC */
#include "dht/dht.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vx_metricsmod {
    struct vx_daemon *d;
    struct vx_metrics *mx;
    bool started, serving;
    struct vx_dht *observed; /* DHT we installed the lookup observer on */

    struct vx_gauge *start_time, *sessions, *streams, *peers, *services;

    /* transport */
    struct vx_counter *sessions_total, *hs_failed, *streams_total;
    struct vx_counter *bytes_in, *bytes_out;
    struct vx_gauge *stream_mem;
    struct vx_counter *lim_sessions, *lim_streams, *lim_isolated, *peer_unreach;
    struct vx_gauge *isolated;

    /* DHT */
    struct vx_gauge *dht_contacts, *dht_records, *dht_published;
    struct vx_counter *dht_lookups_ok, *dht_lookups_failed, *dht_msgs_in, *dht_msgs_out;
    struct vx_counter *dht_bad, *dht_st_ok, *dht_st_rej, *dht_st_token, *dht_rate_hits;
    struct vx_counter *dht_query_hits;
    struct vx_histogram *dht_latency;

    /* relay circuits */
    struct vx_gauge *circ_relay, *circ_client;
    struct vx_counter *circ_served_total, *circ_builds, *circ_retries, *circ_down, *circ_ref_limit,
            *circ_ref_disabled, *circ_crypto, *relay_bytes;

    /* path layer and front-end */
    struct vx_counter *path_ok, *path_failed, *path_timeouts, *path_cancelled;
    struct vx_gauge *path_active, *front_active, *front_tunnels;
    struct vx_counter *front_accepted, *front_failed, *front_tunnels_total, *front_pac;
    struct vx_counter *front_limited, *front_timeouts;

    /* services */
    struct vx_counter *svc_accepted, *svc_refused, *svc_denied, *svc_unknown;
    struct vx_gauge *svc_active;
};

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1.0,  2.5,   5.0,  10.0};

static void dht_observer(uint64_t elapsed_ms, int err, void *arg)
{
    struct vx_metricsmod *m = arg;
    (void)err;
    vx_histogram_observe(m->dht_latency, (double)elapsed_ms / 1000.0);
}

static void collect(struct vx_metrics *mx, void *arg)
{
    struct vx_metricsmod *m = arg;
    struct vx_daemon_stats ds;
    const struct vx_transport *t = vx_daemon_lookup(m->d, VX_OBJ_TRANSPORT);
    const struct vx_dht *dht = vx_daemon_lookup(m->d, VX_OBJ_DHT);
    const struct vx_relay *relay = vx_daemon_lookup(m->d, VX_OBJ_RELAY);
    const struct vx_services *svcs = vx_daemon_lookup(m->d, VX_OBJ_SERVICES);
    const struct vx_path *path = vx_daemon_lookup(m->d, VX_OBJ_PATH);
    const struct vx_front *front = vx_daemon_lookup(m->d, VX_OBJ_FRONT);

    vx_daemon_stats(m->d, &ds);
    vx_gauge_set(m->sessions, (double)ds.sessions);
    vx_gauge_set(m->streams, (double)ds.streams);
    vx_gauge_set(m->peers, (double)ds.peers);
    vx_gauge_set(m->services, (double)ds.services);

    if (t) {
        struct vx_transport_stats ts;
        vx_transport_get_stats(t, &ts);
        m->sessions_total->v = ts.sessions_total;
        m->hs_failed->v = ts.handshakes_failed;
        m->streams_total->v = ts.streams_total;
        m->bytes_in->v = ts.bytes_in;
        m->bytes_out->v = ts.bytes_out;
        vx_gauge_set(m->stream_mem, (double)ts.stream_mem);
        m->lim_sessions->v = ts.limit_sessions;
        m->lim_streams->v = ts.limit_streams;
        m->lim_isolated->v = ts.limit_isolated;
        vx_gauge_set(m->isolated, (double)ts.isolated);
        m->peer_unreach->v = ts.peer_unreachable;
    }
    if (dht) {
        struct vx_dht_stats st;
        vx_dht_stats(dht, &st);
        vx_gauge_set(m->dht_contacts, (double)st.core.contacts);
        vx_gauge_set(m->dht_records, (double)st.core.values);
        vx_gauge_set(m->dht_published, (double)st.core.published);
        m->dht_lookups_ok->v = st.core.lookups_ok;
        m->dht_lookups_failed->v = st.core.lookups_failed;
        m->dht_msgs_in->v = st.core.msgs_in;
        m->dht_msgs_out->v = st.core.msgs_out;
        m->dht_bad->v = st.core.bad_msgs;
        m->dht_st_ok->v = st.core.stores_accepted;
        m->dht_st_rej->v = st.core.stores_rejected;
        m->dht_st_token->v = st.core.stores_bad_token;
        m->dht_rate_hits->v = st.core.stores_rate_limited;
        m->dht_query_hits->v = st.core.queries_rate_limited;
    }
    if (relay) {
        struct vx_relay_stats rs;
        vx_relay_get_stats(relay, &rs);
        vx_gauge_set(m->circ_relay, (double)rs.circuits);
        vx_gauge_set(m->circ_client, (double)rs.client_circuits);
        m->circ_served_total->v = rs.circuits_total;
        m->circ_builds->v = rs.client_built;
        m->circ_retries->v = rs.client_retries;
        m->circ_down->v = rs.client_down;
        m->circ_ref_limit->v = rs.refused_limit;
        m->circ_ref_disabled->v = rs.refused_disabled;
        m->circ_crypto->v = rs.crypto_failures;
        m->relay_bytes->v = rs.bytes_relayed;
    }
    if (path) {
        struct vx_path_stats ps;
        vx_path_get_stats(path, &ps);
        m->path_ok->v = ps.connected;
        m->path_failed->v = ps.failed - ps.timeouts;
        m->path_timeouts->v = ps.timeouts;
        m->path_cancelled->v = ps.cancelled;
        vx_gauge_set(m->path_active, (double)ps.active);
    }
    if (front) {
        struct vx_front_stats fs;
        vx_front_get_stats(front, &fs);
        vx_gauge_set(m->front_active, (double)fs.active);
        vx_gauge_set(m->front_tunnels, (double)fs.tunnels);
        m->front_accepted->v = fs.accepted;
        m->front_failed->v = fs.failed;
        m->front_tunnels_total->v = fs.tunnels_total;
        m->front_pac->v = fs.pac;
        m->front_limited->v = fs.limited;
        m->front_timeouts->v = fs.timeouts;
    }
    if (svcs) {
        struct vx_service_stats ss;
        vx_services_get_stats(svcs, &ss);
        m->svc_accepted->v = ss.accepted;
        m->svc_refused->v = ss.refused;
        m->svc_denied->v = ss.denied;
        m->svc_unknown->v = ss.unknown;
        vx_gauge_set(m->svc_active, (double)ss.active);
    }
}

#define C(name, help, ...) vx_metrics_counter(mx, name, help, ##__VA_ARGS__, NULL)
#define G(name, help, ...) vx_metrics_gauge(mx, name, help, ##__VA_ARGS__, NULL)

static void register_all(struct vx_metricsmod *m)
{
    struct vx_metrics *mx = m->mx;
    const void *t = vx_daemon_lookup(m->d, VX_OBJ_TRANSPORT);
    const void *dht = vx_daemon_lookup(m->d, VX_OBJ_DHT);
    const void *relay = vx_daemon_lookup(m->d, VX_OBJ_RELAY);
    const void *svcs = vx_daemon_lookup(m->d, VX_OBJ_SERVICES);
    const void *path = vx_daemon_lookup(m->d, VX_OBJ_PATH);
    const void *front = vx_daemon_lookup(m->d, VX_OBJ_FRONT);

    vx_gauge_set(
            G("vx6_build_info", "Always 1; the version in a label.", "version", PACKAGE_VERSION),
            1);
    m->start_time = G("vx6_start_time_seconds", "When vx6d started (Unix time).");
    vx_gauge_set(m->start_time, (double)vx_time_unix());
    m->sessions = G("vx6_sessions", "Authenticated sessions to other nodes, open now.");
    m->streams = G("vx6_streams", "Streams over sessions, open now.");
    m->peers = G("vx6_peers", "Known peers (routing table).");
    m->services = G("vx6_services", "Published services.");
    /* error and limit families with the reasons every daemon has */
    C("vx6_errors_total", "Errors by reason (handshake, stream refusals, timeouts, ...).", "reason",
      "handshake");
    C("vx6_limit_hits_total", "Connections, streams or requests refused or closed by a limit.",
      "limit", "handshake_failures");
    C("vx6_limit_hits_total", "Connections, streams or requests refused or closed by a limit.",
      "limit", "handshake_timeout");

    if (t) {
        m->sessions_total = C("vx6_sessions_established_total", "Sessions established.");
        m->hs_failed =
                C("vx6_handshake_failures_total", "Session handshakes that failed (either role).");
        m->streams_total = C("vx6_streams_opened_total", "Streams opened or accepted.");
        /* the transport counts stream payload on every path; circuits add
         * what they forward as relays below */
        m->bytes_in = C("vx6_bytes_total", "Stream payload bytes, by path and direction.", "path",
                        "session", "dir", "in");
        m->bytes_out = C("vx6_bytes_total", "Stream payload bytes, by path and direction.", "path",
                         "session", "dir", "out");
        m->stream_mem = G("vx6_stream_buffer_bytes", "Bytes buffered for streams now.");
        m->lim_sessions = C("vx6_limit_hits_total",
                            "Connections, streams or requests refused or closed by a limit.",
                            "limit", "max_sessions");
        m->peer_unreach = C("vx6_errors_total",
                            "Errors by reason (handshake, stream refusals, timeouts, ...).",
                            "reason", "peer_unreachable");
        m->lim_streams = C("vx6_limit_hits_total",
                           "Connections, streams or requests refused or closed by a limit.",
                           "limit", "max_streams_per_peer");
        m->lim_isolated = C("vx6_limit_hits_total",
                            "Connections, streams or requests refused or closed by a limit.",
                            "limit", "max_sessions_per_peer");
        m->isolated = G("vx6_sessions_isolated",
                        "Sessions dialled for one set of SOCKS credentials (stream isolation).");
    }
    if (dht) {
        m->dht_contacts = G("vx6_dht_contacts", "Contacts in the DHT routing table.");
        m->dht_records = G("vx6_dht_records_stored", "Records stored for the DHT.");
        m->dht_published = G("vx6_dht_records_published", "Records this node publishes.");
        m->dht_lookups_ok = C("vx6_dht_lookups_total", "DHT lookups, by result.", "result", "ok");
        m->dht_lookups_failed =
                C("vx6_dht_lookups_total", "DHT lookups, by result.", "result", "failed");
        m->dht_msgs_in = C("vx6_dht_messages_total", "DHT messages.", "dir", "in");
        m->dht_msgs_out = C("vx6_dht_messages_total", "DHT messages.", "dir", "out");
        m->dht_bad = C("vx6_dht_bad_messages_total", "DHT datagrams that did not parse.");
        m->dht_st_ok =
                C("vx6_dht_stores_total", "STORE requests, by outcome.", "result", "accepted");
        m->dht_st_rej =
                C("vx6_dht_stores_total", "STORE requests, by outcome.", "result", "rejected");
        m->dht_st_token =
                C("vx6_dht_stores_total", "STORE requests, by outcome.", "result", "bad_token");
        m->dht_rate_hits = C("vx6_limit_hits_total",
                             "Connections, streams or requests refused or closed by a limit.",
                             "limit", "dht_store_rate");
        m->dht_query_hits = C("vx6_limit_hits_total",
                              "Connections, streams or requests refused or closed by a limit.",
                              "limit", "dht_rate");
        m->dht_latency = vx_metrics_histogram(
                mx, "vx6_dht_lookup_duration_seconds", "Time DHT lookups took (any result).",
                latency_bounds, sizeof(latency_bounds) / sizeof(latency_bounds[0]), NULL);
        m->observed = (struct vx_dht *)dht;
        vx_dht_set_lookup_observer(m->observed, dht_observer, m);
    }
    if (relay) {
        m->circ_relay = G("vx6_circuits", "Circuits open now, by role.", "role", "relay");
        m->circ_client = G("vx6_circuits", "Circuits open now, by role.", "role", "client");
        m->circ_served_total =
                C("vx6_circuits_served_total", "Circuit hops this node answered (relay or exit).");
        m->circ_builds = C("vx6_circuit_builds_total", "Circuits this node built as a client.");
        m->circ_retries = C("vx6_circuit_build_failures_total",
                            "Circuit build attempts that failed and were retried.");
        m->circ_down = C("vx6_circuit_relays_down_total",
                         "Relays marked down for a while after failing a circuit build.");
        m->circ_ref_limit =
                C("vx6_circuits_refused_total", "Circuits refused, by reason.", "reason", "limit");
        m->circ_ref_disabled = C("vx6_circuits_refused_total", "Circuits refused, by reason.",
                                 "reason", "relay_disabled");
        m->circ_crypto =
                C("vx6_circuit_crypto_failures_total", "Cells that failed their onion layer.");
        m->relay_bytes = C("vx6_bytes_total", "Stream payload bytes, by path and direction.",
                           "path", "relay", "dir", "forwarded");
    }
    if (path) {
        const char *h = "Connection requests through the path layer (names to streams), by "
                        "result.";
        m->path_ok = C("vx6_path_requests_total", h, "result", "connected");
        m->path_failed = C("vx6_path_requests_total", h, "result", "failed");
        m->path_timeouts = C("vx6_path_requests_total", h, "result", "timeout");
        m->path_cancelled = C("vx6_path_requests_total", h, "result", "cancelled");
        m->path_active = G("vx6_path_requests", "Path requests pending or streams open now.");
    }
    if (front) {
        m->front_active = G("vx6_front_connections", "SOCKS/HTTP client connections open now.");
        m->front_tunnels = G("vx6_front_tunnels", "SOCKS/HTTP tunnels open now.");
        m->front_accepted =
                C("vx6_front_connections_total", "SOCKS/HTTP client connections accepted.");
        m->front_failed =
                C("vx6_front_errors_total", "SOCKS/HTTP requests answered with an error reply.");
        m->front_tunnels_total = C("vx6_front_tunnels_total", "SOCKS/HTTP tunnels set up.");
        m->front_pac = C("vx6_front_pac_total", "PAC files served.");
        m->front_limited = C("vx6_limit_hits_total",
                             "Connections, streams or requests refused or closed by a limit.",
                             "limit", "max_connections");
        m->front_timeouts = C("vx6_limit_hits_total",
                              "Connections, streams or requests refused or closed by a limit.",
                              "limit", "request_timeout");
    }
    if (svcs) {
        const char *h = "Streams to published services, by outcome.";
        m->svc_accepted = C("vx6_service_streams_total", h, "result", "accepted");
        m->svc_refused = C("vx6_service_streams_total", h, "result", "refused");
        m->svc_denied = C("vx6_service_streams_total", h, "result", "denied");
        m->svc_unknown = C("vx6_service_streams_total", h, "result", "unknown");
        m->svc_active = G("vx6_service_streams", "Streams forwarded to services, open now.");
    }
    vx_metrics_add_collector(mx, collect, m);
}

#undef C
#undef G

static int serve(struct vx_metricsmod *m, const struct vx_config *cfg)
{
    struct vx_metrics_server_cfg sc = {.allow_remote = 1};
    char a[VX_ADDR_STRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->metrics.ss;

    vx_addr_format(sa, cfg->metrics.len, a, sizeof(a));
    int rc = vx_metrics_server_start(m->mx, vx_daemon_loop(m->d), sa, cfg->metrics.len, &sc);
    if (rc < 0) {
        log_err(LD_GENERAL, "cannot serve metrics on %s: %s", a,
                rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
        return rc;
    }
    m->serving = true;
    if (!vx_addr_is_loopback(sa))
        log_notice(LD_GENERAL,
                   "metrics on %s are reachable from the network; firewall the port or bind "
                   "to 127.0.0.1",
                   a);
    log_info(LD_GENERAL, "metrics: http://%s/metrics", a);
    return 0;
}

static int mod_start(struct vx_daemon *d, void *arg)
{
    struct vx_metricsmod *m = arg;
    const struct vx_config *cfg = vx_daemon_config(d);

    m->d = d;
    m->mx = vx_daemon_metrics(d);
    m->started = true;
    register_all(m);
    if (!cfg->metrics_enabled)
        return 0;
    return serve(m, cfg);
}

static void mod_apply(struct vx_daemon *d, const struct vx_config *o, const struct vx_config *n,
                      void *arg)
{
    struct vx_metricsmod *m = arg;
    bool same = o->metrics_enabled == n->metrics_enabled &&
                (!n->metrics_enabled || vx_addr_cmp((const struct sockaddr *)&o->metrics.ss,
                                                    (const struct sockaddr *)&n->metrics.ss) == 0);
    if (same)
        return;
    if (m->serving) {
        vx_metrics_server_stop(m->mx);
        m->serving = false;
        log_info(LD_GENERAL, "metrics endpoint closed (configuration changed)");
    }
    if (n->metrics_enabled)
        serve(m, n); /* failure logged; the rest of the reload stands */
}

static void mod_stop(void *arg)
{
    struct vx_metricsmod *m = arg;
    if (m->serving)
        vx_metrics_server_stop(m->mx);
    m->serving = false;
}

static void mod_free(void *arg)
{
    struct vx_metricsmod *m = arg;
    if (!m)
        return;
    if (m->started) {
        mod_stop(m);
        vx_metrics_remove_collector(m->mx, collect, m);
        if (m->observed && vx_daemon_lookup(m->d, VX_OBJ_DHT) == m->observed)
            vx_dht_set_lookup_observer(m->observed, NULL, NULL);
    }
    free(m);
}

const struct vx_daemon_module_ops vx_metricsmod_ops = {
        .name = "metrics",
        .start = mod_start,
        .apply_config = mod_apply,
        .stop = mod_stop,
        .free = mod_free,
};

struct vx_metricsmod *vx_metricsmod_new(void)
{
    struct vx_metricsmod *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    return m;
}
