/* metrics.c — metrics registry, Prometheus text exporter, scrape endpoint. */
#include "lib/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

enum mtype { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

struct vx_histogram {
    size_t n;             /* finite buckets */
    const double *bounds; /* the family's bounds */
    uint64_t *counts;     /* n + 1, not cumulative; [n] is the +Inf bucket */
    double sum;
    uint64_t count;
};

struct series {
    struct series *next;
    char *labels; /* rendered, sorted by name, escaped: a="x",b="y" (or "") */
    union {
        struct vx_counter c;
        struct vx_gauge g;
        struct vx_histogram h;
    } u;
};

struct family {
    struct family *next;
    char *name;
    char *help;
    enum mtype type;
    double *bounds; /* histograms */
    size_t nbounds;
    struct series *first;
    struct series **tail;
};

struct collector {
    struct collector *next;
    vx_metrics_collect_fn fn;
    void *arg;
};

struct server;

struct vx_metrics {
    struct family *first;
    struct family **tail;
    struct collector *collectors;
    struct server *srv;
};

/* ---- growable string ---- */

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_reserve(struct sb *s, size_t more)
{
    if (s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + more + 1)
        cap *= 2;
    s->p = xrealloc(s->p, cap);
    s->cap = cap;
}

static void sb_addn(struct sb *s, const char *d, size_t n)
{
    sb_reserve(s, n);
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_add(struct sb *s, const char *d)
{
    sb_addn(s, d, strlen(d));
}

static void sb_addc(struct sb *s, char c)
{
    sb_addn(s, &c, 1);
}

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    char tmp[128];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        sb_addn(s, tmp, (size_t)n);
        return;
    }
    sb_reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* Exposition-format float: shortest of %.15g/%.17g that round-trips. */
static void sb_double(struct sb *s, double v)
{
    char tmp[40];
    if (isnan(v)) {
        sb_add(s, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_add(s, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    sb_add(s, tmp);
}

/* Escape backslash and newline, and double quote too if quotes (label
 * values do, HELP text does not). */
static void sb_escaped(struct sb *s, const char *v, int quotes)
{
    for (; *v; v++) {
        if (*v == '\\')
            sb_add(s, "\\\\");
        else if (*v == '"' && quotes)
            sb_add(s, "\\\"");
        else if (*v == '\n')
            sb_add(s, "\\n");
        else
            sb_addc(s, *v);
    }
}

/* ---- registration ---- */

static int valid_metric_name(const char *n)
{
    if (!n || !*n)
        return 0;
    for (const char *p = n; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        int digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != n))
            return 0;
    }
    return 1;
}

static int valid_label_name(const char *n)
{
    if (!n || !*n || (n[0] == '_' && n[1] == '_'))
        return 0;
    for (const char *p = n; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        int digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != n))
            return 0;
    }
    return 1;
}

struct vx_metrics *vx_metrics_new(void)
{
    struct vx_metrics *m = xcalloc(1, sizeof(*m));
    m->tail = &m->first;
    return m;
}

static void family_free(struct family *f)
{
    struct series *s, *next;
    for (s = f->first; s; s = next) {
        next = s->next;
        if (f->type == MT_HISTOGRAM)
            free(s->u.h.counts);
        free(s->labels);
        free(s);
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
}

void vx_metrics_free(struct vx_metrics *m)
{
    struct family *f, *fn;
    struct collector *c, *cn;
    if (!m)
        return;
    vx_metrics_server_stop(m);
    for (f = m->first; f; f = fn) {
        fn = f->next;
        family_free(f);
    }
    for (c = m->collectors; c; c = cn) {
        cn = c->next;
        free(c);
    }
    free(m);
}

static const char *type_name(enum mtype t)
{
    switch (t) {
    case MT_COUNTER:
        return "counter";
    case MT_GAUGE:
        return "gauge";
    case MT_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* Collect the NULL-terminated name/value pairs, validate them, and render
 * them sorted by name.  Returns a malloc'ed string or NULL if invalid. */
static char *labels_render(const char *metric, enum mtype type, va_list ap)
{
    const char *names[VX_METRICS_MAX_LABELS], *values[VX_METRICS_MAX_LABELS];
    size_t n = 0;
    const char *k;
    struct sb s = {0};

    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (n == VX_METRICS_MAX_LABELS) {
            log_err(LD_GENERAL, "metric %s: more than %d labels", metric, VX_METRICS_MAX_LABELS);
            return NULL;
        }
        if (!v || !valid_label_name(k) || (type == MT_HISTOGRAM && strcmp(k, "le") == 0)) {
            log_err(LD_GENERAL, "metric %s: invalid label name or value for \"%s\"", metric, k);
            return NULL;
        }
        /* insertion sort by name; duplicate names are an error */
        size_t i = n;
        while (i > 0 && strcmp(names[i - 1], k) > 0) {
            names[i] = names[i - 1];
            values[i] = values[i - 1];
            i--;
        }
        if (i > 0 && strcmp(names[i - 1], k) == 0) {
            log_err(LD_GENERAL, "metric %s: label \"%s\" given twice", metric, k);
            return NULL;
        }
        names[i] = k;
        values[i] = v;
        n++;
    }
    sb_reserve(&s, 0);
    s.p[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_addc(&s, ',');
        sb_add(&s, names[i]);
        sb_add(&s, "=\"");
        sb_escaped(&s, values[i], 1);
        sb_addc(&s, '"');
    }
    return s.p;
}

static struct series *series_get(struct vx_metrics *m, const char *name, const char *help,
                                 enum mtype type, const double *bounds, size_t nb, va_list ap)
{
    struct family *f;
    struct series *s;
    char *labels;

    if (!valid_metric_name(name) || !help) {
        log_err(LD_GENERAL, "invalid metric name \"%s\"", name ? name : "(null)");
        return NULL;
    }
    labels = labels_render(name, type, ap);
    if (!labels)
        return NULL;
    for (f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f) {
        if (f->type != type || strcmp(f->help, help) != 0) {
            log_err(LD_GENERAL, "metric %s registered again with another type or help", name);
            goto fail;
        }
        if (type == MT_HISTOGRAM &&
            (nb != f->nbounds || memcmp(bounds, f->bounds, nb * sizeof(*bounds)) != 0)) {
            log_err(LD_GENERAL, "histogram %s registered again with other buckets", name);
            goto fail;
        }
        for (s = f->first; s; s = s->next) {
            if (strcmp(s->labels, labels) == 0) {
                free(labels);
                return s;
            }
        }
    } else {
        f = xcalloc(1, sizeof(*f));
        f->name = xstrdup(name);
        f->help = xstrdup(help);
        f->type = type;
        f->tail = &f->first;
        if (type == MT_HISTOGRAM) {
            f->bounds = xcalloc(nb, sizeof(*bounds));
            memcpy(f->bounds, bounds, nb * sizeof(*bounds));
            f->nbounds = nb;
        }
        *m->tail = f;
        m->tail = &f->next;
    }
    s = xcalloc(1, sizeof(*s));
    s->labels = labels;
    if (type == MT_HISTOGRAM) {
        s->u.h.n = f->nbounds;
        s->u.h.bounds = f->bounds;
        s->u.h.counts = xcalloc(f->nbounds + 1, sizeof(uint64_t));
    }
    *f->tail = s;
    f->tail = &s->next;
    return s;
fail:
    free(labels);
    return NULL;
}

struct vx_counter *vx_metrics_counter(struct vx_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct series *s = series_get(m, name, help, MT_COUNTER, NULL, 0, ap);
    va_end(ap);
    return s ? &s->u.c : NULL;
}

struct vx_gauge *vx_metrics_gauge(struct vx_metrics *m, const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct series *s = series_get(m, name, help, MT_GAUGE, NULL, 0, ap);
    va_end(ap);
    return s ? &s->u.g : NULL;
}

struct vx_histogram *vx_metrics_histogram(struct vx_metrics *m, const char *name, const char *help,
                                          const double *bounds, size_t n, ...)
{
    va_list ap;
    struct series *s;

    if (!bounds || n == 0 || n > 64) {
        log_err(LD_GENERAL, "histogram %s: 1 to 64 buckets needed", name ? name : "(null)");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            log_err(LD_GENERAL, "histogram %s: bucket bounds must be finite and increasing",
                    name ? name : "(null)");
            return NULL;
        }
    }
    va_start(ap, n);
    s = series_get(m, name, help, MT_HISTOGRAM, bounds, n, ap);
    va_end(ap);
    return s ? &s->u.h : NULL;
}

void vx_histogram_observe(struct vx_histogram *h, double v)
{
    size_t i;
    if (isnan(v))
        return;
    for (i = 0; i < h->n; i++)
        if (v <= h->bounds[i])
            break;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

uint64_t vx_histogram_count(const struct vx_histogram *h)
{
    return h->count;
}

double vx_histogram_sum(const struct vx_histogram *h)
{
    return h->sum;
}

int vx_metrics_add_collector(struct vx_metrics *m, vx_metrics_collect_fn fn, void *arg)
{
    struct collector **pp;
    for (pp = &m->collectors; *pp; pp = &(*pp)->next)
        if ((*pp)->fn == fn && (*pp)->arg == arg)
            return VX_ERR_EXISTS;
    *pp = xcalloc(1, sizeof(**pp));
    (*pp)->fn = fn;
    (*pp)->arg = arg;
    return 0;
}

int vx_metrics_remove_collector(struct vx_metrics *m, vx_metrics_collect_fn fn, void *arg)
{
    for (struct collector **pp = &m->collectors; *pp; pp = &(*pp)->next) {
        if ((*pp)->fn == fn && (*pp)->arg == arg) {
            struct collector *c = *pp;
            *pp = c->next;
            free(c);
            return 0;
        }
    }
    return VX_ERR_NOTFOUND;
}

/* ---- rendering ---- */

static void render_sample(struct sb *s, const char *name, const char *suffix, const char *labels,
                          const char *le)
{
    sb_add(s, name);
    sb_add(s, suffix);
    if (*labels || le) {
        sb_addc(s, '{');
        sb_add(s, labels);
        if (le) {
            if (*labels)
                sb_addc(s, ',');
            sb_add(s, "le=\"");
            sb_add(s, le);
            sb_addc(s, '"');
        }
        sb_addc(s, '}');
    }
    sb_addc(s, ' ');
}

static void render_histogram(struct sb *s, const struct family *f, const struct series *se)
{
    const struct vx_histogram *h = &se->u.h;
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->n; i++) {
        struct sb le = {0};
        if (i < h->n)
            sb_double(&le, h->bounds[i]);
        else
            sb_add(&le, "+Inf");
        cum += h->counts[i];
        render_sample(s, f->name, "_bucket", se->labels, le.p);
        sb_printf(s, "%" PRIu64 "\n", cum);
        free(le.p);
    }
    render_sample(s, f->name, "_sum", se->labels, NULL);
    sb_double(s, h->sum);
    sb_addc(s, '\n');
    render_sample(s, f->name, "_count", se->labels, NULL);
    sb_printf(s, "%" PRIu64 "\n", h->count);
}

static void render(struct vx_metrics *m, struct sb *s)
{
    struct collector *c, *cn;
    for (c = m->collectors; c; c = cn) {
        cn = c->next; /* a collector may remove itself */
        c->fn(m, c->arg);
    }
    sb_reserve(s, 0);
    s->p[s->len] = '\0';
    for (const struct family *f = m->first; f; f = f->next) {
        sb_add(s, "# HELP ");
        sb_add(s, f->name);
        sb_addc(s, ' ');
        sb_escaped(s, f->help, 0);
        sb_add(s, "\n# TYPE ");
        sb_add(s, f->name);
        sb_addc(s, ' ');
        sb_add(s, type_name(f->type));
        sb_addc(s, '\n');
        for (const struct series *se = f->first; se; se = se->next) {
            switch (f->type) {
            case MT_COUNTER:
                render_sample(s, f->name, "", se->labels, NULL);
                sb_printf(s, "%" PRIu64 "\n", se->u.c.v);
                break;
            case MT_GAUGE:
                render_sample(s, f->name, "", se->labels, NULL);
                sb_double(s, se->u.g.v);
                sb_addc(s, '\n');
                break;
            case MT_HISTOGRAM:
                render_histogram(s, f, se);
                break;
            }
        }
    }
}

char *vx_metrics_render_str(struct vx_metrics *m, size_t *len)
{
    struct sb s = {0};
    render(m, &s);
    if (len)
        *len = s.len;
    return s.p;
}

int vx_metrics_render(struct vx_metrics *m, struct vx_buf *out)
{
    size_t n;
    char *p = vx_metrics_render_str(m, &n);
    int rc = vx_buf_add(out, p, n);
    free(p);
    return rc;
}

int vx_metrics_render_file(struct vx_metrics *m, FILE *f)
{
    size_t n;
    char *p = vx_metrics_render_str(m, &n);
    int rc = (fwrite(p, 1, n, f) == n && fflush(f) == 0) ? 0 : VX_ERR_SYS;
    free(p);
    return rc;
}

/* ---- request-head parser ---- */

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* One line without its terminator: p[0..n). */
static int parse_request_line(const char *p, size_t n, struct vx_metrics_req *req)
{
    size_t i = 0, m0, t0, tn;

    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return VX_ERR_PROTO;
    m0 = i;
    if (m0 == 3 && memcmp(p, "GET", 3) == 0)
        req->method = VX_METRICS_GET;
    else if (m0 == 4 && memcmp(p, "HEAD", 4) == 0)
        req->method = VX_METRICS_HEAD;
    else
        req->method = VX_METRICS_OTHER;
    t0 = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    tn = i - t0;
    if (tn == 0 || i >= n || p[i] != ' ')
        return VX_ERR_PROTO;
    i++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT */
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
        return VX_ERR_PROTO;
    if (p[i + 5] != '1' || (p[i + 7] != '0' && p[i + 7] != '1'))
        return VX_ERR_VERSION;
    req->minor = p[i + 7] - '0';
    req->is_metrics = (tn == 8 && memcmp(p + t0, "/metrics", 8) == 0) ||
                      (tn > 8 && memcmp(p + t0, "/metrics?", 9) == 0);
    return 0;
}

static int parse_header_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return VX_ERR_PROTO; /* also refuses obs-fold (leading SP/HTAB) */
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return VX_ERR_PROTO;
    }
    return 0;
}

int vx_metrics_http_parse(const char *buf, size_t len, struct vx_metrics_req *req)
{
    size_t lim = len < VX_METRICS_HEAD_MAX ? len : VX_METRICS_HEAD_MAX;
    size_t pos = 0;
    int line = 0, rc;
    struct vx_metrics_req r = {0};

    while (pos < lim) {
        const char *nl = memchr(buf + pos, '\n', lim - pos);
        size_t n;
        if (!nl)
            break;
        n = (size_t)(nl - (buf + pos));
        if (n > 0 && buf[pos + n - 1] == '\r')
            n--;
        if (memchr(buf + pos, '\r', n) != NULL)
            return VX_ERR_PROTO; /* a bare CR inside a line */
        if (line == 0) {
            rc = parse_request_line(buf + pos, n, &r);
            if (rc < 0)
                return rc;
        } else if (n == 0) {
            r.head_len = (size_t)(nl - buf) + 1;
            *req = r;
            return 0;
        } else {
            rc = parse_header_line(buf + pos, n);
            if (rc < 0)
                return rc;
        }
        line++;
        pos = (size_t)(nl - buf) + 1;
    }
    return len >= VX_METRICS_HEAD_MAX ? VX_ERR_TOOBIG : VX_ERR_TRUNC;
}

/* ---- HTTP server ---- */

enum conn_state { C_READ_HEAD, C_WRITE, C_DRAIN, C_DEAD };

struct conn {
    struct conn *next;
    struct conn **pprev;
    struct server *srv;
    enum conn_state state;
    int fd;
    ev_io io;
    ev_timer timer;
    size_t head_len;
    char head[VX_METRICS_HEAD_MAX];
    struct vx_buf *out;
};

struct server {
    struct vx_metrics *m;
    struct ev_loop *loop;
    int fd;
    ev_io accept_io;
    ev_check reap;
    struct conn *conns;
    struct conn *dead;
    unsigned nconns;
    unsigned max_clients;
    double timeout;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* Close a connection's socket and mark it dead; the ev_check watcher frees
 * the struct after the current loop iteration, so no callback still running
 * touches freed memory. */
static void conn_kill(struct conn *c)
{
    struct server *s = c->srv;
    if (c->state == C_DEAD)
        return;
    c->state = C_DEAD;
    ev_io_stop(s->loop, &c->io);
    ev_timer_stop(s->loop, &c->timer);
    close(c->fd); /* now: the check watcher may only run after the next wake-up */
    c->fd = -1;
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    c->next = s->dead;
    s->dead = c;
    s->nconns--;
    if (!ev_is_active(&s->reap))
        ev_check_start(s->loop, &s->reap);
}

static void conn_free(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    vx_buf_free(c->out);
    free(c);
}

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct server *s = w->data;
    struct conn *c, *next;
    for (c = s->dead; c; c = next) {
        next = c->next;
        conn_free(c);
    }
    s->dead = NULL;
    ev_check_stop(loop, w);
}

static const char *status_text(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Error";
}

/* Build the whole response into c->out and switch to writing. */
static void conn_respond(struct conn *c, int code, int head_only)
{
    struct server *s = c->srv;
    struct sb hdr = {0};
    char *body;
    size_t blen;

    if (code == 200) {
        body = vx_metrics_render_str(s->m, &blen);
    } else {
        struct sb b = {0};
        sb_printf(&b, "%d %s\n", code, status_text(code));
        body = b.p;
        blen = b.len;
    }
    sb_printf(&hdr, "HTTP/1.1 %d %s\r\n", code, status_text(code));
    if (code == 200)
        sb_add(&hdr, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    else
        sb_add(&hdr, "Content-Type: text/plain; charset=utf-8\r\n");
    if (code == 405)
        sb_add(&hdr, "Allow: GET, HEAD\r\n");
    sb_printf(&hdr, "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);

    c->out = vx_buf_new(hdr.len + blen);
    vx_buf_add(c->out, hdr.p, hdr.len);
    if (!head_only)
        vx_buf_add(c->out, body, blen);
    free(hdr.p);
    free(body);

    c->state = C_WRITE;
    ev_io_stop(s->loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_WRITE);
    ev_io_start(s->loop, &c->io);
    ev_timer_stop(s->loop, &c->timer);
    ev_timer_set(&c->timer, s->timeout, 0.);
    ev_timer_start(s->loop, &c->timer);
}

static void conn_head(struct conn *c)
{
    struct vx_metrics_req req;
    int rc = vx_metrics_http_parse(c->head, c->head_len, &req);
    switch (rc) {
    case VX_ERR_TRUNC:
        return;
    case 0:
        if (req.method == VX_METRICS_OTHER)
            conn_respond(c, 405, 0);
        else if (!req.is_metrics)
            conn_respond(c, 404, req.method == VX_METRICS_HEAD);
        else
            conn_respond(c, 200, req.method == VX_METRICS_HEAD);
        return;
    case VX_ERR_TOOBIG:
        conn_respond(c, 431, 0);
        return;
    case VX_ERR_VERSION:
        conn_respond(c, 505, 0);
        return;
    default:
        conn_respond(c, 400, 0);
        return;
    }
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    struct server *s = c->srv;

    if (c->state == C_READ_HEAD) {
        ssize_t n = read(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_kill(c); /* closed or failed before a complete head */
            return;
        }
        c->head_len += (size_t)n;
        conn_head(c);
    } else if (c->state == C_WRITE) {
        ssize_t n = vx_buf_write_fd(c->out, c->fd);
        if (n == VX_ERR_AGAIN)
            return;
        if (n < 0) {
            conn_kill(c);
            return;
        }
        if (vx_buf_len(c->out) > 0)
            return;
        /* Half-close and read until the client closes, so unread request
         * bytes do not turn our close into a reset that loses the reply. */
        shutdown(c->fd, SHUT_WR);
        c->state = C_DRAIN;
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, EV_READ);
        ev_io_start(loop, &c->io);
        ev_timer_stop(loop, &c->timer);
        ev_timer_set(&c->timer, s->timeout, 0.);
        ev_timer_start(loop, &c->timer);
    } else if (c->state == C_DRAIN) {
        char sink[1024];
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0)
            conn_kill(c);
    }
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    if (c->state == C_READ_HEAD)
        log_debug(LD_GENERAL, "metrics: dropping a client that sent no complete request in time");
    conn_kill(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct server *s = w->data;

    for (int i = 0; i < 64; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn_rl(LD_GENERAL, "metrics: accept: %s", strerror(errno));
            return;
        }
        if (s->nconns >= s->max_clients) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
            ssize_t sent = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)sent;
            close(fd);
            log_warn_rl(LD_GENERAL, "metrics: more than %u scrapers at once, refusing",
                        s->max_clients);
            continue;
        }
        struct conn *c = xcalloc(1, sizeof(*c));
        c->srv = s;
        c->fd = fd;
        c->state = C_READ_HEAD;
        ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
        c->io.data = c;
        ev_timer_init(&c->timer, conn_timer_cb, s->timeout, 0.);
        c->timer.data = c;
        c->next = s->conns;
        if (c->next)
            c->next->pprev = &c->next;
        c->pprev = &s->conns;
        s->conns = c;
        s->nconns++;
        ev_io_start(loop, &c->io);
        ev_timer_start(loop, &c->timer);
    }
}

int vx_metrics_server_start(struct vx_metrics *m, struct ev_loop *loop, const struct sockaddr *sa,
                            socklen_t salen, const struct vx_metrics_server_cfg *cfg)
{
    struct server *s;
    int fd, one = 1;

    if (m->srv)
        return VX_ERR_EXISTS;
    if ((sa->sa_family != AF_INET || salen < sizeof(struct sockaddr_in)) &&
        (sa->sa_family != AF_INET6 || salen < sizeof(struct sockaddr_in6)))
        return VX_ERR_BADADDR;
    if (!vx_addr_is_loopback(sa) && !(cfg && cfg->allow_remote)) {
        log_err(LD_GENERAL, "metrics: refusing to listen on a non-loopback address "
                            "(the endpoint has no authentication)");
        return VX_ERR_DENIED;
    }
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return VX_ERR_SYS;
    }
    s = xcalloc(1, sizeof(*s));
    s->m = m;
    s->loop = loop;
    s->fd = fd;
    s->max_clients = cfg && cfg->max_clients ? cfg->max_clients : VX_METRICS_MAX_CLIENTS;
    s->timeout = cfg && cfg->timeout > 0 ? cfg->timeout : VX_METRICS_TIMEOUT_SECS;
    s->addrlen = sizeof(s->addr);
    getsockname(fd, (struct sockaddr *)&s->addr, &s->addrlen);
    ev_io_init(&s->accept_io, accept_cb, fd, EV_READ);
    s->accept_io.data = s;
    ev_check_init(&s->reap, reap_cb);
    s->reap.data = s;
    ev_io_start(loop, &s->accept_io);
    m->srv = s;
    return 0;
}

void vx_metrics_server_stop(struct vx_metrics *m)
{
    struct server *s = m->srv;
    if (!s)
        return;
    while (s->conns)
        conn_kill(s->conns);
    reap_cb(s->loop, &s->reap, 0);
    ev_io_stop(s->loop, &s->accept_io);
    close(s->fd);
    free(s);
    m->srv = NULL;
}

int vx_metrics_server_addr(const struct vx_metrics *m, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!m->srv)
        return VX_ERR_NOTFOUND;
    memcpy(ss, &m->srv->addr, sizeof(*ss));
    *len = m->srv->addrlen;
    return 0;
}

unsigned vx_metrics_server_clients(const struct vx_metrics *m)
{
    return m->srv ? m->srv->nconns : 0;
}
