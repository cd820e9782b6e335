/* metrics.h — a metrics registry and its Prometheus text exporter.
 *
 * A module registers its metrics once, at start-up, and keeps the handles it
 * gets back.  Updating a counter or gauge is a plain store or add to a field
 * of the handle (no lock, no lookup: one event loop per process).  Handles
 * stay valid until vx_metrics_free().
 *
 * A family is a metric name with its HELP text and TYPE; each distinct label
 * set registered under a name is one series of that family.  Registering a
 * name again with the same type and another label set adds a series;
 * registering an existing label set again returns the existing handle.
 *
 * Collectors are callbacks run at the start of every scrape (render), before
 * any text is produced: a module that already keeps a stats struct registers
 * gauges (or counters) for it and copies its fields into the handles from a
 * collector, instead of maintaining duplicate counters on the hot path.
 *
 * vx_metrics_render() writes exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): families in
 * registration order, "# HELP" and "# TYPE" lines, series in registration
 * order, label values escaped (\\, \", \n), histograms as cumulative
 * _bucket{le="..."} series ending with le="+Inf", then _sum and _count.
 *
 * The HTTP server answers GET (and HEAD) /metrics with 200 and
 * "Content-Type: text/plain; version=0.0.4; charset=utf-8", any other path
 * with 404, any other method with 405, a malformed head with 400, a head over
 * VX_METRICS_HEAD_MAX bytes with 431, an HTTP version other than 1.0/1.1 with
 * 505.  Each response closes the connection.  A client that has not sent a
 * complete head within the timeout is dropped; at most max_clients are
 * served at once, further ones get 503 and are closed.
 */
#ifndef VX6_LIB_METRICS_H
#define VX6_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct ev_loop;
struct vx_buf;
struct vx_metrics;

/* Handles.  Update them directly: c->v += n is the whole cost. */
struct vx_counter {
    uint64_t v;
};
struct vx_gauge {
    double v;
};
struct vx_histogram; /* opaque: use vx_histogram_observe() */

static inline void vx_counter_add(struct vx_counter *c, uint64_t n)
{
    c->v += n;
}
static inline void vx_counter_inc(struct vx_counter *c)
{
    c->v++;
}
static inline void vx_gauge_set(struct vx_gauge *g, double v)
{
    g->v = v;
}
static inline void vx_gauge_add(struct vx_gauge *g, double d)
{
    g->v += d;
}

/* Record one observation: the first bucket whose upper bound is >= v, the
 * sum and the count.  NaN is ignored. */
void vx_histogram_observe(struct vx_histogram *h, double v);
/* Totals, for tests and for modules that want to log them. */
uint64_t vx_histogram_count(const struct vx_histogram *h);
double vx_histogram_sum(const struct vx_histogram *h);

/* An empty registry.  Never returns NULL. */
struct vx_metrics *vx_metrics_new(void);
/* Stops the HTTP server if running and frees every handle.  Accepts NULL. */
void vx_metrics_free(struct vx_metrics *m);

/* Register a series.  `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; the
 * variadic part is label name/value string pairs ending with NULL:
 *
 *   c = vx_metrics_counter(m, "vx6_bytes_total", "Bytes carried.",
 *                          "path", "direct", "dir", "in", NULL);
 *
 * Label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"
 * ("le" is reserved in histograms); values are any UTF-8 string.  At most
 * VX_METRICS_MAX_LABELS labels.  Returns NULL (and logs why) for an invalid
 * name or label, a name already registered with another type or HELP text,
 * or a repeated label name — all programming errors. */
#define VX_METRICS_MAX_LABELS 8
struct vx_counter *vx_metrics_counter(struct vx_metrics *m, const char *name, const char *help, ...)
        __attribute__((sentinel));
struct vx_gauge *vx_metrics_gauge(struct vx_metrics *m, const char *name, const char *help, ...)
        __attribute__((sentinel));
/* `bounds` are the n upper bounds of the finite buckets, strictly
 * increasing and finite (the +Inf bucket is implicit); 1 <= n <= 64.  Every
 * series of one histogram family must use the same bounds. */
struct vx_histogram *vx_metrics_histogram(struct vx_metrics *m, const char *name, const char *help,
                                          const double *bounds, size_t n, ...)
        __attribute__((sentinel));

/* Collectors run at every render, in registration order.  add: 0 or
 * VX_ERR_EXISTS if (fn, arg) is already registered.  remove: 0 or
 * VX_ERR_NOTFOUND.  A module must remove its collector before freeing arg. */
typedef void (*vx_metrics_collect_fn)(struct vx_metrics *m, void *arg);
int vx_metrics_add_collector(struct vx_metrics *m, vx_metrics_collect_fn fn, void *arg);
int vx_metrics_remove_collector(struct vx_metrics *m, vx_metrics_collect_fn fn, void *arg);

/* Run the collectors and append the exposition text to `out`.  0, or
 * VX_ERR_AGAIN if `out` has not the room (nothing is appended then). */
int vx_metrics_render(struct vx_metrics *m, struct vx_buf *out);
/* Same, to a stdio stream.  0 or VX_ERR_SYS. */
int vx_metrics_render_file(struct vx_metrics *m, FILE *f);
/* Same, into a new malloc'ed NUL-terminated string (*len without the NUL).
 * Never returns NULL; the caller frees. */
char *vx_metrics_render_str(struct vx_metrics *m, size_t *len);

/* ---- HTTP endpoint ---- */

#define VX_METRICS_HEAD_MAX     8192
#define VX_METRICS_MAX_CLIENTS  16
#define VX_METRICS_TIMEOUT_SECS 5.0

struct vx_metrics_server_cfg {
    unsigned max_clients; /* 0: VX_METRICS_MAX_CLIENTS */
    double timeout;       /* seconds to receive the head, and to send the
                           * response; <= 0: VX_METRICS_TIMEOUT_SECS */
    int allow_remote;     /* bind addresses other than loopback */
};

/* Listen on `sa` (IPv4 or IPv6; port 0 picks one) and serve scrapes from
 * `loop`.  cfg may be NULL for the defaults (loopback only).  Returns 0,
 * VX_ERR_DENIED for a non-loopback address without allow_remote,
 * VX_ERR_BADADDR for another address family, VX_ERR_EXISTS if a server is
 * already running on m, or VX_ERR_SYS (errno set: EADDRINUSE...). */
int vx_metrics_server_start(struct vx_metrics *m, struct ev_loop *loop, const struct sockaddr *sa,
                            socklen_t salen, const struct vx_metrics_server_cfg *cfg);
/* Close the listener and every client connection.  No-op if not running. */
void vx_metrics_server_stop(struct vx_metrics *m);
/* The bound address (to learn the port chosen for port 0).  0 or
 * VX_ERR_NOTFOUND if no server is running. */
int vx_metrics_server_addr(const struct vx_metrics *m, struct sockaddr_storage *ss, socklen_t *len);
/* Clients being served right now. */
unsigned vx_metrics_server_clients(const struct vx_metrics *m);

/* ---- request-head parser (pure; exposed for the tests and the fuzzer) ---- */

enum vx_metrics_method { VX_METRICS_GET = 1, VX_METRICS_HEAD, VX_METRICS_OTHER };

struct vx_metrics_req {
    size_t head_len; /* bytes of the head, blank line included */
    enum vx_metrics_method method;
    int minor;      /* HTTP/1.<minor>, 0 or 1 */
    int is_metrics; /* target is /metrics, with or without ?query */
};

/* Parse a request head from buf[0..len).  Returns 0 when a complete, valid
 * head is present (fills *req); VX_ERR_TRUNC if more bytes are needed;
 * VX_ERR_TOOBIG if no head ends within VX_METRICS_HEAD_MAX bytes;
 * VX_ERR_VERSION for a version other than HTTP/1.0 or HTTP/1.1;
 * VX_ERR_PROTO for a malformed request line or header.  Lines end with CRLF
 * or a bare LF; obsolete line folding is refused. */
int vx_metrics_http_parse(const char *buf, size_t len, struct vx_metrics_req *req);

#endif
