/* metricsmod.h — vx6d's metrics module (slot VX_SLOT_METRICS).
 *
 * Serves the daemon's metrics registry (vx_daemon_metrics()) in Prometheus
 * text format at http://<metrics>/metrics when the config sets `metrics:`
 * (off by default; a non-loopback address is allowed but logged).  At start
 * it registers collectors that read, at each scrape, the counters of the
 * objects the other modules published (vx_daemon_publish): the transport
 * (sessions, streams, bytes, handshakes), the DHT (contacts, records,
 * lookups, a lookup latency histogram through vx_dht_set_lookup_observer),
 * relay circuits and services; objects nobody published are skipped.
 * Module-level counters (vx6_errors_total, vx6_limit_hits_total, vx6_xdp_*)
 * are registered by their owners in the same registry.  The metric names
 * are listed in vx6d(8), METRICS.
 */
#ifndef VX6_DAEMON_METRICSMOD_H
#define VX6_DAEMON_METRICSMOD_H

#include "daemon/daemon.h"

struct vx_metricsmod;

extern const struct vx_daemon_module_ops vx_metricsmod_ops;

/* Never NULL.  Register with vx_daemon_set_module(d, VX_SLOT_METRICS,
 * &vx_metricsmod_ops, m); the daemon frees it. */
struct vx_metricsmod *vx_metricsmod_new(void);

#endif
