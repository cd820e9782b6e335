/* path.c — names to streams: direct IPv6, named (through a resolver),
 * aliases, clearnet passthrough.  See path.h. */
#include "path/path.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/name.h"
#include "hidden/hsconn.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "path/circuit.h"
#include "lib/xalloc.h"

#define DESC_MAX (VX_NAME_HOST_MAX + 8)
#define GAI_POLL 0.005

enum req_state {
    R_RESOLVING = 1, /* named mode: waiting for the resolver */
    R_DNS,           /* clearnet: waiting for getaddrinfo_a() */
    R_OPENING,       /* vx_transport_open() in progress */
    R_CIRCUIT,       /* relay circuit being built */
    R_HIDDEN,        /* hidden-service rendezvous in progress */
    R_TCP,           /* clearnet: non-blocking connect in progress */
    R_OPEN,          /* stream handed to the caller; waiting for its end */
    R_DEAD,          /* finished; freed by the reaper */
};

enum req_kind {
    K_DIRECT = 1,
    K_NAMED,
    K_CLEARNET,
    K_HIDDEN,
};

/* route=auto memory: a destination whose direct path failed goes through
 * relays until `until_ms`; the first request after that tries direct again
 * (the probe) and either clears the entry or renews it. */
#define AUTO_MEM_MAX 256
struct auto_mem {
    uint8_t key[VX_NODE_ID_LEN + 1]; /* kind byte + node ID or IPv6 address */
    uint64_t until_ms;
    uint32_t failures;
};

struct alias {
    char *name;
    char *target;
};

/* A getaddrinfo_a() request; its memory must live until glibc is done. */
struct dns {
    struct gaicb cb;
    struct addrinfo hints;
    char host[VX_NAME_HOST_MAX + 1];
    struct dns *next; /* orphan list */
};

struct vx_path {
    struct ev_loop *loop;
    struct vx_transport *t;
    uint16_t node_port;
    uint32_t timeout_ms;
    int clearnet;
    struct alias *aliases;
    size_t naliases;
    struct vx_path_resolver resolver;
    void *rarg;
    int has_resolver;
    struct vx_path_req *reqs; /* live requests */
    struct vx_path_req *reap; /* dead, to free */
    struct vx_path_lookup *lookups;
    struct dns *dns_orphans;
    ev_check reaper;
    ev_timer dns_gc;
    struct vx_path_stats st;
    /* relay circuits and hidden services (set by vx6d's path module) */
    struct vx_relay *relay;
    unsigned relay_hops;
    vx_path_key_fn key_fn;
    void *key_arg;
    struct vx_hs_connector *hs;
    uint32_t auto_memory_ms;
    uint32_t auto_direct_ms;
    struct auto_mem mem[AUTO_MEM_MAX];
};

struct vx_path_req {
    struct vx_path *p;
    struct vx_path_req *prev, *next;
    enum req_state state;
    enum req_kind kind;
    struct vx_path_cbs cbs;
    void *arg;
    struct vx_path_opts opts;
    uint16_t port;
    char service[VX_NAME_LABEL_MAX + 1];
    char desc[DESC_MAX];
    ev_timer timer; /* overall deadline; DNS polling */
    uint64_t deadline_ms;
    void *rhandle;
    struct vx_stream *stream;
    int fd;
    ev_io io;
    struct dns *dns;
    struct vx_path_node *node; /* named mode */
    size_t addr_idx;
    int last_err;
    /* relay and hidden paths */
    struct vx_circuit *circ;
    struct vx_hs_conn *hc;
    char hs_address[VX_NAME_HIDDEN_LEN + 1];
    uint8_t dest_key[VX_NODE_ID_LEN + 1]; /* auto memory key */
    int has_dest_key;
    struct sockaddr_storage dest_addr; /* direct mode: where the node is */
    socklen_t dest_addrlen;
    int direct_try;        /* auto: the direct attempt in progress may fall back */
    ev_timer direct_timer; /* auto: the direct attempt's own budget */
};

struct vx_path_lookup {
    struct vx_path *p;
    struct vx_path_lookup *prev, *next;
    vx_path_describe_fn done;
    void *ctx;
    void *rhandle;
    ev_timer defer;
    int err;
    char line[VX_NAME_HOST_MAX + VX_NODE_ID_STRLEN + VX_ADDR_STRLEN + VX_PATH_HOW_MAX + 64];
    char host[VX_NAME_HOST_MAX + 1];
};

const char *vx_route_name(enum vx_route r)
{
    switch (r) {
    case VX_ROUTE_AUTO:
        return "auto";
    case VX_ROUTE_DIRECT:
        return "direct";
    case VX_ROUTE_RELAY:
        return "relay";
    }
    return "?";
}

int vx_route_parse(const char *s)
{
    if (!strcmp(s, "auto"))
        return VX_ROUTE_AUTO;
    if (!strcmp(s, "direct"))
        return VX_ROUTE_DIRECT;
    if (!strcmp(s, "relay"))
        return VX_ROUTE_RELAY;
    return -1;
}

static int parse_uint(const char *s, size_t len, unsigned long lo, unsigned long hi,
                      unsigned long *out)
{
    unsigned long v = 0;
    if (len == 0 || len > 9)
        return VX_ERR_INVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return VX_ERR_INVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < lo || v > hi)
        return VX_ERR_INVAL;
    *out = v;
    return 0;
}

int vx_path_opts_parse(struct vx_path_opts *opts, const char *s)
{
    struct vx_path_opts o = *opts;
    while (*s) {
        size_t len = strcspn(s, ";,");
        const char *eq = memchr(s, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - s);
            const char *v = eq + 1;
            size_t vlen = len - klen - 1;
            unsigned long n;
            if (klen == 5 && !strncmp(s, "route", 5)) {
                char buf[8];
                int r;
                if (vlen >= sizeof(buf))
                    return VX_ERR_INVAL;
                memcpy(buf, v, vlen);
                buf[vlen] = 0;
                if ((r = vx_route_parse(buf)) < 0)
                    return VX_ERR_INVAL;
                o.route = (enum vx_route)r;
            } else if (klen == 4 && !strncmp(s, "hops", 4)) {
                if (parse_uint(v, vlen, 1, 8, &n) < 0)
                    return VX_ERR_INVAL;
                o.hops = (unsigned)n;
            } else if (klen == 7 && !strncmp(s, "timeout", 7)) {
                if (parse_uint(v, vlen, 100, 600000, &n) < 0)
                    return VX_ERR_INVAL;
                o.timeout_ms = (uint32_t)n;
            }
        }
        s += len;
        if (*s)
            s++;
    }
    *opts = o;
    return 0;
}

static void req_fail(struct vx_path_req *r, int err);
static uint64_t now_ms(const struct vx_path *p);

/* ---- life cycle ------------------------------------------------------- */

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct vx_path *p = w->data;
    (void)loop;
    (void)revents;
    while (p->reap) {
        struct vx_path_req *r = p->reap;
        p->reap = r->next;
        free(r->node);
        free(r);
    }
    ev_check_stop(p->loop, &p->reaper);
}

static int dns_orphans_gc(struct vx_path *p)
{
    struct dns **pp = &p->dns_orphans;
    while (*pp) {
        struct dns *d = *pp;
        if (gai_error(&d->cb) != EAI_INPROGRESS) {
            *pp = d->next;
            if (d->cb.ar_result)
                freeaddrinfo(d->cb.ar_result);
            free(d);
        } else {
            pp = &d->next;
        }
    }
    return p->dns_orphans != NULL;
}

static void dns_gc_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_path *p = w->data;
    (void)revents;
    if (!dns_orphans_gc(p))
        ev_timer_stop(loop, w);
}

struct vx_path *vx_path_new(struct ev_loop *loop, struct vx_transport *t)
{
    struct vx_path *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->t = t;
    p->node_port = VX_PATH_DEFAULT_NODE_PORT;
    p->timeout_ms = VX_PATH_DEFAULT_TIMEOUT_MS;
    p->relay_hops = VX_CIRCUIT_DEFAULT_HOPS;
    p->auto_direct_ms = VX_PATH_AUTO_DIRECT_MS;
    p->auto_memory_ms = VX_PATH_AUTO_MEMORY_MS;
    ev_check_init(&p->reaper, reap_cb);
    p->reaper.data = p;
    ev_timer_init(&p->dns_gc, dns_gc_cb, 0.05, 0.05);
    p->dns_gc.data = p;
    return p;
}

static void free_aliases(struct vx_path *p)
{
    for (size_t i = 0; i < p->naliases; i++) {
        free(p->aliases[i].name);
        free(p->aliases[i].target);
    }
    free(p->aliases);
    p->aliases = NULL;
    p->naliases = 0;
}

void vx_path_free(struct vx_path *p)
{
    if (!p)
        return;
    while (p->reqs)
        vx_path_cancel(p->reqs);
    while (p->lookups)
        vx_path_resolve_cancel(p->lookups);
    reap_cb(p->loop, &p->reaper, 0);
    ev_timer_stop(p->loop, &p->dns_gc);
    while (p->dns_orphans) {
        const struct gaicb *list[1] = {&p->dns_orphans->cb};
        if (gai_error(&p->dns_orphans->cb) == EAI_INPROGRESS)
            gai_suspend(list, 1, NULL);
        dns_orphans_gc(p);
    }
    free_aliases(p);
    free(p);
}

void vx_path_set_node_port(struct vx_path *p, uint16_t port)
{
    p->node_port = port ? port : VX_PATH_DEFAULT_NODE_PORT;
}

void vx_path_set_timeout(struct vx_path *p, uint32_t ms)
{
    p->timeout_ms = ms ? ms : VX_PATH_DEFAULT_TIMEOUT_MS;
}

void vx_path_set_clearnet(struct vx_path *p, int allow)
{
    p->clearnet = !!allow;
}

int vx_path_clearnet_allowed(const struct vx_path *p)
{
    return p->clearnet;
}

static int label_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > VX_NAME_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int vx_path_set_aliases(struct vx_path *p, const struct vx_path_alias *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!a[i].name || !a[i].target || !label_ok(a[i].name) ||
            strlen(a[i].target) > VX_NAME_HOST_MAX - 4)
            return VX_ERR_INVAL;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(a[i].name, a[j].name))
                return VX_ERR_INVAL;
    }
    free_aliases(p);
    if (n) {
        p->aliases = xcalloc(n, sizeof(*p->aliases));
        for (size_t i = 0; i < n; i++) {
            p->aliases[i].name = xstrdup(a[i].name);
            p->aliases[i].target = xstrdup(a[i].target);
        }
    }
    p->naliases = n;
    return 0;
}

void vx_path_set_resolver(struct vx_path *p, const struct vx_path_resolver *r, void *rarg)
{
    if (r) {
        p->resolver = *r;
        p->rarg = rarg;
        p->has_resolver = 1;
    } else {
        memset(&p->resolver, 0, sizeof(p->resolver));
        p->rarg = NULL;
        p->has_resolver = 0;
    }
}

/* Fail the pending requests in state st (their relay or connector goes). */
static void fail_state(struct vx_path *p, enum req_state st)
{
    struct vx_path_req *r = p->reqs, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->state == st)
            req_fail(r, VX_ERR_CLOSED);
    }
}

void vx_path_set_relay(struct vx_path *p, struct vx_relay *relay, unsigned default_hops,
                       vx_path_key_fn key_fn, void *key_arg)
{
    if (relay != p->relay)
        fail_state(p, R_CIRCUIT);
    p->relay = relay;
    p->relay_hops = default_hops ? default_hops : VX_CIRCUIT_DEFAULT_HOPS;
    p->key_fn = key_fn;
    p->key_arg = key_arg;
}

void vx_path_set_hidden(struct vx_path *p, struct vx_hs_connector *k)
{
    if (k != p->hs)
        fail_state(p, R_HIDDEN);
    p->hs = k;
}

void vx_path_set_auto_policy(struct vx_path *p, uint32_t direct_ms, uint32_t memory_ms)
{
    if (direct_ms)
        p->auto_direct_ms = direct_ms;
    if (memory_ms)
        p->auto_memory_ms = memory_ms;
}

int vx_path_auto_relayed(const struct vx_path *p)
{
    uint64_t now = now_ms(p);
    int n = 0;
    for (size_t i = 0; i < AUTO_MEM_MAX; i++)
        if (p->mem[i].until_ms > now)
            n++;
    return n;
}

void vx_path_get_stats(const struct vx_path *p, struct vx_path_stats *st)
{
    *st = p->st;
}

const char *vx_path_req_desc(const struct vx_path_req *req)
{
    return req->desc;
}

/* ---- name classification ---------------------------------------------- */

static const char *alias_find(const struct vx_path *p, const char *name)
{
    for (size_t i = 0; i < p->naliases; i++)
        if (!strcmp(p->aliases[i].name, name))
            return p->aliases[i].target;
    return NULL;
}

/* Classify host, following one alias.  On success *n describes the final
 * name and *via the alias used (NULL if none). */
static int classify(const struct vx_path *p, const char *host, struct vx_name *n, const char **via)
{
    unsigned flags = p->clearnet ? VX_NAME_ALLOW_CLEARNET : 0;
    int r = vx_name_parse(host, flags, n);
    *via = NULL;
    if (r < 0)
        return r;
    if (n->kind == VX_NAME_ALIAS) {
        char buf[VX_NAME_HOST_MAX + 8];
        const char *target = alias_find(p, n->alias);
        size_t tl;
        if (!target)
            return VX_ERR_NOTFOUND;
        *via = target;
        tl = strlen(target);
        if (tl >= 4 && !strcasecmp(target + tl - 4, ".vx6"))
            snprintf(buf, sizeof(buf), "%s", target);
        else
            snprintf(buf, sizeof(buf), "%s.vx6", target);
        r = vx_name_parse(buf, 0, n);
        if (r < 0)
            return r == VX_ERR_DENIED ? VX_ERR_BADADDR : r;
        if (n->kind == VX_NAME_ALIAS)
            return VX_ERR_BADADDR; /* no alias chains */
    }
    return 0;
}

static void ipv6_sockaddr(const struct in6_addr *ip, uint16_t port, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = *ip;
    s6->sin6_port = htons(port);
    *len = sizeof(*s6);
}

/* ---- requests ------------------------------------------------------------ */

static void req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void req_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void req_unlink(struct vx_path_req *r)
{
    struct vx_path *p = r->p;
    if (r->prev)
        r->prev->next = r->next;
    else
        p->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* Stop everything the request is waiting on and park it for the reaper. */
static void req_kill(struct vx_path_req *r)
{
    struct vx_path *p = r->p;
    if (r->state == R_DEAD)
        return;
    ev_timer_stop(p->loop, &r->timer);
    ev_io_stop(p->loop, &r->io);
    if (r->rhandle) {
        p->resolver.cancel(p->rarg, r->rhandle);
        r->rhandle = NULL;
    }
    ev_timer_stop(p->loop, &r->direct_timer);
    if (r->stream) {
        vx_stream_close(r->stream, VX_ERR_CLOSED);
        r->stream = NULL;
    }
    if (r->circ) {
        vx_circuit_close(r->circ);
        r->circ = NULL;
    }
    if (r->hc) {
        vx_hs_conn_close(r->hc);
        r->hc = NULL;
    }
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    if (r->dns) {
        if (gai_cancel(&r->dns->cb) == EAI_CANCELED || gai_error(&r->dns->cb) != EAI_INPROGRESS) {
            if (r->dns->cb.ar_result)
                freeaddrinfo(r->dns->cb.ar_result);
            free(r->dns);
        } else {
            r->dns->next = p->dns_orphans;
            p->dns_orphans = r->dns;
            if (!ev_is_active(&p->dns_gc))
                ev_timer_start(p->loop, &p->dns_gc);
        }
        r->dns = NULL;
    }
    if (p->st.active)
        p->st.active--;
    r->state = R_DEAD;
    req_unlink(r);
    r->next = p->reap;
    p->reap = r;
    ev_check_start(p->loop, &p->reaper);
}

static void req_fail(struct vx_path_req *r, int err)
{
    struct vx_path_cbs cbs = r->cbs;
    void *arg = r->arg;
    r->p->st.failed++;
    if (err == VX_ERR_TIMEOUT)
        r->p->st.timeouts++;
    log_debug(LD_PATH, "%s: %s", r->desc, vx_strerror(err));
    req_kill(r);
    cbs.on_connected(r, err, NULL, -1, arg);
}

static void stream_on_open(struct vx_stream *s, int err, void *arg);
static void stream_on_close(struct vx_stream *s, int err, void *arg);

static const struct vx_stream_cbs stream_cbs = {
        .on_open = stream_on_open,
        .on_close = stream_on_close,
};

/* ---- relay circuits, route=auto, hidden services ---------------------- */

static void direct_failed(struct vx_path_req *r, int err);

static uint64_t now_ms(const struct vx_path *p)
{
    return (uint64_t)(ev_now(p->loop) * 1000.0);
}

static struct auto_mem *mem_find(struct vx_path *p, const uint8_t *key)
{
    for (size_t i = 0; i < AUTO_MEM_MAX; i++)
        if (p->mem[i].until_ms && !memcmp(p->mem[i].key, key, sizeof(p->mem[i].key)))
            return &p->mem[i];
    return NULL;
}

/* Remember the outcome of a direct attempt (direct_ok 0: it failed). */
static void mem_note(struct vx_path *p, const uint8_t *key, int direct_ok)
{
    struct auto_mem *m = mem_find(p, key);
    uint64_t now = now_ms(p);
    if (direct_ok) {
        if (m) {
            log_info(LD_PATH, "route auto: the direct path works again after %u failure(s)",
                     m->failures);
            memset(m, 0, sizeof(*m));
        }
        return;
    }
    if (!m) {
        /* a free slot, else the one that expires first */
        struct auto_mem *old = &p->mem[0];
        for (size_t i = 0; i < AUTO_MEM_MAX; i++) {
            if (!p->mem[i].until_ms) {
                old = &p->mem[i];
                break;
            }
            if (p->mem[i].until_ms < old->until_ms)
                old = &p->mem[i];
        }
        m = old;
        memset(m, 0, sizeof(*m));
        memcpy(m->key, key, sizeof(m->key));
    }
    m->failures++;
    m->until_ms = now + p->auto_memory_ms;
}

/* Does the memory send this destination through relays now? */
static int mem_relay_now(struct vx_path *p, const uint8_t *key)
{
    struct auto_mem *m = mem_find(p, key);
    return m && m->until_ms > now_ms(p);
}

static int relay_fallback_err(int err)
{
    /* ROUTE: the owner takes the service through relay circuits only (a
     * direct IPv6 name has no SERVICE record that would have said so) */
    return err == VX_ERR_UNREACH || err == VX_ERR_TIMEOUT || err == VX_ERR_CLOSED ||
           err == VX_ERR_RESET || err == VX_ERR_ROUTE;
}

/* The callee now owns fd; the request is finished. */
static void req_hand_fd(struct vx_path_req *r, int fd)
{
    struct vx_path_cbs cbs = r->cbs;
    void *arg = r->arg;
    r->p->st.connected++;
    req_kill(r);
    cbs.on_connected(r, 0, NULL, fd, arg);
}

/* A socketpair: one end for splice(), the other handed out like a
 * clearnet socket.  -1 (errno set) on failure. */
static int make_pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

static void circ_on_open(struct vx_circuit *c, int err, void *arg)
{
    struct vx_path_req *r = arg;
    int sv[2];
    r->circ = NULL;
    if (err < 0) {
        log_debug(LD_PATH, "%s: relay circuit failed after %u attempt(s): %s", r->desc,
                  vx_circuit_attempts(c), vx_strerror(err));
        req_fail(r, err);
        return;
    }
    if (make_pair(sv) < 0) {
        vx_circuit_close(c);
        req_fail(r, VX_ERR_SYS);
        return;
    }
    if (vx_circuit_splice(c, sv[0]) < 0) {
        close(sv[1]);
        req_fail(r, VX_ERR_INTERNAL);
        return;
    }
    r->p->st.relayed++;
    log_debug(LD_PATH, "%s: relay circuit open (%u hops)", r->desc, vx_circuit_hops(c));
    req_hand_fd(r, sv[1]);
}

/* Once spliced the circuit lives on its own; its arg (the request) is gone. */
static void circ_on_close(struct vx_circuit *c, int err, void *arg)
{
    (void)c;
    (void)err;
    (void)arg;
}

static const struct vx_circuit_cbs circ_cbs = {
        .on_open = circ_on_open,
        .on_close = circ_on_close,
};

/* Build a circuit to the node at addr (node_id: NULL in direct IPv6 mode). */
static int relay_start(struct vx_path_req *r, const uint8_t *node_id, const struct sockaddr *addr,
                       socklen_t addrlen)
{
    struct vx_path *p = r->p;
    struct vx_circuit_req cr;
    int err = 0;
    char a[VX_ADDR_STRLEN];

    if (!p->relay || !p->key_fn)
        return VX_ERR_UNREACH;
    if (!addr || addrlen == 0 || addrlen > sizeof(cr.dest.addr)) {
        log_info(LD_PATH, "%s: no known endpoint of the node, no relay circuit", r->desc);
        return VX_ERR_UNREACH;
    }
    memset(&cr, 0, sizeof(cr));
    if (p->key_fn(p->key_arg, node_id, addr, addrlen, cr.dest.pk) < 0) {
        vx_addr_format(addr, addrlen, a, sizeof(a));
        log_info(LD_PATH,
                 "%s: the key of the node at %s is not known here (no NODE record yet): "
                 "cannot build a relay circuit to it",
                 r->desc, a);
        return VX_ERR_UNREACH;
    }
    memcpy(&cr.dest.addr, addr, addrlen);
    cr.dest.addrlen = addrlen;
    cr.service = r->service;
    cr.port = r->port;
    cr.auth = 1;
    cr.hops = r->opts.hops ? r->opts.hops : p->relay_hops;
    /* the retries fit in what is left of the request's time */
    uint64_t now = (uint64_t)(ev_now(p->loop) * 1000.0);
    cr.timeout_ms = r->deadline_ms > now ? (uint32_t)(r->deadline_ms - now) : 1;
    r->state = R_CIRCUIT;
    r->circ = vx_circuit_connect(p->relay, &cr, &circ_cbs, r, &err);
    if (!r->circ) {
        log_info(LD_PATH, "%s: cannot build a %u-hop circuit: %s", r->desc, cr.hops,
                 err == VX_ERR_NOTFOUND ? "not enough relays known" : vx_strerror(err));
        return err == VX_ERR_NOTFOUND ? VX_ERR_UNREACH : err < 0 ? err : VX_ERR_INTERNAL;
    }
    log_debug(LD_PATH, "%s: building a %u-hop relay circuit", r->desc, cr.hops);
    return 0;
}

/* Where the destination is, for a relay circuit. */
static int relay_dest(struct vx_path_req *r)
{
    if (r->kind == K_NAMED) {
        if (!r->node || r->node->naddrs == 0)
            return relay_start(r, r->node ? r->node->node_id : NULL, NULL, 0);
        return relay_start(r, r->node->node_id, (const struct sockaddr *)&r->node->addrs[0],
                           r->node->addrlens[0]);
    }
    return relay_start(r, NULL, (const struct sockaddr *)&r->dest_addr, r->dest_addrlen);
}

/* route=auto: the direct attempt failed with err; go through relays. */
static void direct_failed(struct vx_path_req *r, int err)
{
    struct vx_path *p = r->p;
    int e;
    if (!r->direct_try || !relay_fallback_err(err)) {
        req_fail(r, err);
        return;
    }
    r->direct_try = 0;
    ev_timer_stop(p->loop, &r->direct_timer);
    if (r->stream) {
        vx_stream_close(r->stream, VX_ERR_TIMEOUT);
        r->stream = NULL;
    }
    if (r->has_dest_key && err != VX_ERR_ROUTE) /* a per-service answer, not the node's */
        mem_note(p, r->dest_key, 0);
    p->st.auto_fallbacks++;
    {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_PATH, VX_LOG_INFO,
                  "%s: direct path failed (%s), trying a relay circuit (route auto)", r->desc,
                  vx_strerror(err));
    }
    e = relay_dest(r);
    if (e < 0)
        req_fail(r, err); /* the direct error says more than "no relay" */
}

static void direct_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_path_req *r = w->data;
    (void)loop;
    (void)revents;
    if (r->state == R_OPENING && r->direct_try)
        direct_failed(r, VX_ERR_TIMEOUT);
}

static void hs_on_open(struct vx_hs_conn *hc, int err, void *arg)
{
    struct vx_path_req *r = arg;
    int sv[2];
    r->hc = NULL;
    if (err < 0) {
        log_debug(LD_PATH, "%s: hidden service: %s", r->desc, vx_strerror(err));
        req_fail(r, err);
        return;
    }
    if (make_pair(sv) < 0) {
        vx_hs_conn_close(hc);
        req_fail(r, VX_ERR_SYS);
        return;
    }
    if (vx_hs_conn_splice(hc, sv[0]) < 0) {
        vx_hs_conn_close(hc);
        close(sv[1]);
        req_fail(r, VX_ERR_INTERNAL);
        return;
    }
    r->p->st.hidden++;
    log_debug(LD_PATH, "%s: hidden service connected", r->desc);
    req_hand_fd(r, sv[1]);
}

static void hs_on_close(struct vx_hs_conn *hc, int err, void *arg)
{
    (void)hc;
    (void)err;
    (void)arg;
}

static const struct vx_hs_conn_cbs hs_cbs = {
        .on_open = hs_on_open,
        .on_close = hs_on_close,
};

static int hidden_start(struct vx_path_req *r)
{
    int err = 0;
    r->state = R_HIDDEN;
    r->hc = vx_hs_connect(r->p->hs, r->hs_address, r->port, &hs_cbs, r, &err);
    if (!r->hc)
        return err < 0 ? err : VX_ERR_INTERNAL;
    return 0;
}

/* Open the stream through the transport: peer_id NULL for direct mode. */
static int req_open(struct vx_path_req *r, const uint8_t *peer_id, const struct sockaddr *addr,
                    socklen_t addrlen)
{
    struct vx_stream_target tgt;
    int err = 0;
    memset(&tgt, 0, sizeof(tgt));
    tgt.kind = VX_TARGET_SERVICE;
    tgt.port = r->port;
    snprintf(tgt.name, sizeof(tgt.name), "%s", r->service);
    tgt.isolation = r->opts.isolation;
    r->state = R_OPENING;
    r->stream = vx_transport_open(r->p->t, peer_id, addr, addrlen, &tgt, &stream_cbs, r, &err);
    if (!r->stream)
        return err < 0 ? err : VX_ERR_INTERNAL;
    return 0;
}

/* Named mode: dial the next endpoint, or fail with the last error. */
static void named_next(struct vx_path_req *r)
{
    while (r->addr_idx < r->node->naddrs || (r->addr_idx == 0 && r->node->naddrs == 0)) {
        size_t i = r->addr_idx++;
        int err;
        if (r->node->naddrs == 0)
            err = req_open(r, r->node->node_id, NULL, 0); /* an existing session only */
        else
            err = req_open(r, r->node->node_id, (const struct sockaddr *)&r->node->addrs[i],
                           r->node->addrlens[i]);
        if (err == 0)
            return;
        r->last_err = err;
        if (r->node->naddrs == 0)
            break;
    }
    direct_failed(r, r->last_err ? r->last_err : VX_ERR_UNREACH);
}

static void stream_on_open(struct vx_stream *s, int err, void *arg)
{
    struct vx_path_req *r = arg;
    (void)s;
    r->stream = NULL; /* released by the transport on error; re-set below */
    if (err < 0) {
        r->last_err = err;
        /* Another endpoint may work when this one is unreachable. */
        if (r->kind == K_NAMED && r->node && r->addr_idx < r->node->naddrs &&
            (err == VX_ERR_UNREACH || err == VX_ERR_TIMEOUT || err == VX_ERR_PEER_ID)) {
            named_next(r);
            return;
        }
        direct_failed(r, err);
        return;
    }
    r->stream = s;
    r->state = R_OPEN;
    ev_timer_stop(r->p->loop, &r->timer);
    ev_timer_stop(r->p->loop, &r->direct_timer);
    if (r->has_dest_key && r->direct_try)
        mem_note(r->p, r->dest_key, 1);
    r->direct_try = 0;
    r->p->st.connected++;
    log_debug(LD_PATH, "%s: stream open", r->desc);
    r->cbs.on_connected(r, 0, s, -1, r->arg);
}

static void stream_on_close(struct vx_stream *s, int err, void *arg)
{
    struct vx_path_req *r = arg;
    struct vx_path_cbs cbs = r->cbs;
    void *uarg = r->arg;
    (void)s;
    r->stream = NULL;
    req_kill(r);
    if (cbs.on_closed)
        cbs.on_closed(r, err, uarg);
}

/* The owner's route policy from the SERVICE record (named mode) wins over
 * the request's: a relay-only service is reached through a circuit even when
 * direct was asked for (more privacy, never less); asking a direct-only
 * service for a circuit fails with VX_ERR_ROUTE rather than going direct
 * behind the user's back. */
static int route_policy(struct vx_path_req *r)
{
    if (r->kind != K_NAMED || !r->node || r->node->route == VX_ROUTE_AUTO ||
        r->node->route == r->opts.route)
        return 0;
    if (r->node->route == VX_ROUTE_RELAY) {
        if (r->opts.route == VX_ROUTE_DIRECT)
            log_info(LD_PATH, "%s: the service takes relay circuits only; not going direct",
                     r->desc);
        else
            log_debug(LD_PATH, "%s: the service takes relay circuits only", r->desc);
        r->opts.route = VX_ROUTE_RELAY;
        return 0;
    }
    if (r->opts.route == VX_ROUTE_RELAY) {
        log_info(LD_PATH,
                 "%s: route relay asked for, but the service takes direct connections "
                 "only; refusing",
                 r->desc);
        return VX_ERR_ROUTE;
    }
    r->opts.route = VX_ROUTE_DIRECT; /* no relay fallback either */
    return 0;
}

/* Direct, relay or auto for a destination that is known now (direct IPv6
 * mode: r->dest_addr; named mode: r->node).  0 when something is under
 * way (named mode may also have finished the request already). */
static int route_go(struct vx_path_req *r)
{
    struct vx_path *p = r->p;
    int e;
    if ((e = route_policy(r)) < 0)
        return e;
    if (r->opts.route == VX_ROUTE_RELAY)
        return relay_dest(r);
    if (r->opts.route == VX_ROUTE_AUTO && p->relay && p->key_fn) {
        if (r->has_dest_key && mem_relay_now(p, r->dest_key)) {
            log_debug(LD_PATH, "%s: direct failed recently, relay circuit (route auto)", r->desc);
            if (relay_dest(r) == 0)
                return 0;
        }
        r->direct_try = 1;
        uint64_t now = now_ms(p);
        uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
        uint64_t budget = p->auto_direct_ms;
        if (budget > left / 2)
            budget = left / 2;
        ev_timer_set(&r->direct_timer, (double)(budget ? budget : 1) / 1000.0, 0);
        ev_timer_start(p->loop, &r->direct_timer);
    }
    if (r->kind == K_NAMED) {
        named_next(r);
        return 0;
    }
    e = req_open(r, NULL, (const struct sockaddr *)&r->dest_addr, r->dest_addrlen);
    if (e < 0 && r->direct_try && relay_fallback_err(e)) {
        r->direct_try = 0;
        ev_timer_stop(p->loop, &r->direct_timer);
        r->stream = NULL;
        if (r->has_dest_key && e != VX_ERR_ROUTE)
            mem_note(p, r->dest_key, 0);
        p->st.auto_fallbacks++;
        log_info(LD_PATH, "%s: direct path failed (%s), trying a relay circuit (route auto)",
                 r->desc, vx_strerror(e));
        if (relay_dest(r) == 0)
            return 0;
    }
    return e;
}

static void resolved_cb(void *ctx, int err, const struct vx_path_node *node)
{
    struct vx_path_req *r = ctx;
    r->rhandle = NULL;
    if (r->state != R_RESOLVING)
        return;
    if (err < 0) {
        req_fail(r, err);
        return;
    }
    r->node = xcalloc(1, sizeof(*r->node));
    *r->node = *node;
    if (r->node->naddrs > VX_PATH_MAX_ADDRS)
        r->node->naddrs = VX_PATH_MAX_ADDRS;
    log_debug(LD_PATH, "%s: resolved (%s), %zu endpoint(s)", r->desc, node->how, node->naddrs);
    r->dest_key[0] = 'N';
    memcpy(r->dest_key + 1, r->node->node_id, VX_NODE_ID_LEN);
    r->has_dest_key = 1;
    int e = route_go(r);
    if (e < 0)
        req_fail(r, e);
}

/* ---- clearnet ---------------------------------------------------------- */

static int tcp_start(struct vx_path_req *r, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    r->fd = fd;
    r->state = R_TCP;
    if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        r->fd = -1;
        return e == ECONNREFUSED ? VX_ERR_REFUSED : VX_ERR_UNREACH;
    }
    ev_io_init(&r->io, req_io_cb, fd, EV_WRITE);
    r->io.data = r;
    ev_io_start(r->p->loop, &r->io);
    return 0;
}

static void req_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_path_req *r = w->data;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    (void)revents;
    ev_io_stop(loop, w);
    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (soerr) {
        req_fail(r, soerr == ECONNREFUSED ? VX_ERR_REFUSED : VX_ERR_UNREACH);
        return;
    }
    int fd = r->fd;
    struct vx_path_cbs cbs = r->cbs;
    void *arg = r->arg;
    r->fd = -1;
    r->p->st.connected++;
    req_kill(r);
    cbs.on_connected(r, 0, NULL, fd, arg);
}

static void dns_check(struct vx_path_req *r)
{
    int e = gai_error(&r->dns->cb);
    if (e == EAI_INPROGRESS) {
        ev_timer_stop(r->p->loop, &r->timer);
        ev_timer_set(&r->timer, GAI_POLL, 0);
        ev_timer_start(r->p->loop, &r->timer);
        return;
    }
    struct addrinfo *ai = e == 0 ? r->dns->cb.ar_result : NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (ai && ai->ai_addrlen <= sizeof(ss)) {
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        len = ai->ai_addrlen;
    }
    if (r->dns->cb.ar_result)
        freeaddrinfo(r->dns->cb.ar_result);
    free(r->dns);
    r->dns = NULL;
    if (!len) {
        req_fail(r, VX_ERR_NOTFOUND);
        return;
    }
    vx_addr_set_port((struct sockaddr *)&ss, r->port);
    ev_timer_stop(r->p->loop, &r->timer);
    uint64_t now = (uint64_t)(ev_now(r->p->loop) * 1000.0);
    double left = r->deadline_ms > now ? (double)(r->deadline_ms - now) / 1000.0 : 0.001;
    ev_timer_set(&r->timer, left, 0);
    ev_timer_start(r->p->loop, &r->timer);
    int err = tcp_start(r, (struct sockaddr *)&ss, len);
    if (err < 0)
        req_fail(r, err);
}

static void req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_path_req *r = w->data;
    (void)revents;
    uint64_t now = (uint64_t)(ev_now(loop) * 1000.0);
    if (r->state == R_DNS && now < r->deadline_ms) {
        dns_check(r);
        return;
    }
    if (r->state == R_OPEN || r->state == R_DEAD)
        return;
    log_debug(LD_PATH, "%s: timed out", r->desc);
    req_fail(r, VX_ERR_TIMEOUT);
}

static int clearnet_start(struct vx_path_req *r, const struct vx_name *n)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (n->ip_family) {
        if (vx_addr_parse_ip(n->host, &ss, &len) < 0)
            return VX_ERR_BADADDR;
        vx_addr_set_port((struct sockaddr *)&ss, r->port);
        return tcp_start(r, (struct sockaddr *)&ss, len);
    }
    struct dns *d = xcalloc(1, sizeof(*d));
    struct gaicb *list[1] = {&d->cb};
    snprintf(d->host, sizeof(d->host), "%s", n->host);
    d->hints.ai_socktype = SOCK_STREAM;
    d->hints.ai_family = AF_UNSPEC;
    d->hints.ai_flags = AI_ADDRCONFIG;
    d->cb.ar_name = d->host;
    d->cb.ar_request = &d->hints;
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        free(d);
        return VX_ERR_SYS;
    }
    r->dns = d;
    r->state = R_DNS;
    ev_timer_stop(r->p->loop, &r->timer);
    ev_timer_set(&r->timer, GAI_POLL, 0);
    ev_timer_start(r->p->loop, &r->timer);
    return 0;
}

struct vx_path_req *vx_path_connect(struct vx_path *p, const char *host, uint16_t port,
                                    const struct vx_path_opts *opts, const struct vx_path_cbs *cbs,
                                    void *arg, int *err)
{
    struct vx_name n;
    const char *via;
    int dummy, r;
    if (!err)
        err = &dummy;
    p->st.requests++;
    if (!cbs || !cbs->on_connected || !host) {
        *err = VX_ERR_INVAL;
        goto fail;
    }
    if (port == 0) {
        *err = VX_ERR_INVAL;
        goto fail;
    }
    r = classify(p, host, &n, &via);
    if (r < 0) {
        if (r == VX_ERR_NOTFOUND)
            log_info(LD_PATH, "%s: no such alias", host);
        *err = r;
        goto fail;
    }
    struct vx_path_opts o = {VX_ROUTE_AUTO, 0, 0, 0};
    if (opts)
        o = *opts;
    if (n.kind == VX_NAME_HIDDEN && !p->hs) {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_PATH, VX_LOG_NOTICE,
                  "%s: hidden services need the DHT and relays, which are not running here", host);
        *err = VX_ERR_NOTFOUND;
        goto fail;
    }
    if (n.kind != VX_NAME_CLEARNET && n.kind != VX_NAME_HIDDEN && o.route == VX_ROUTE_RELAY &&
        !p->relay) {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_PATH, VX_LOG_NOTICE,
                  "%s: route relay asked for, but relay circuits are not running here", host);
        *err = VX_ERR_UNREACH;
        goto fail;
    }
    if (n.kind != VX_NAME_CLEARNET && !p->t) {
        *err = VX_ERR_UNREACH;
        goto fail;
    }
    if (n.kind == VX_NAME_SERVICE && !p->has_resolver) {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_PATH, VX_LOG_NOTICE,
                  "%s: named services need the DHT, which is not running", host);
        *err = VX_ERR_NOTFOUND;
        goto fail;
    }

    struct vx_path_req *q = xcalloc(1, sizeof(*q));
    q->p = p;
    q->fd = -1;
    q->cbs = *cbs;
    q->arg = arg;
    q->opts = o;
    q->port = port;
    snprintf(q->desc, sizeof(q->desc), "%s:%u", host, port);
    ev_timer_init(&q->timer, req_timer_cb, 0, 0);
    q->timer.data = q;
    ev_io_init(&q->io, req_io_cb, -1, EV_WRITE);
    q->io.data = q;
    ev_timer_init(&q->direct_timer, direct_timer_cb, 0, 0);
    q->direct_timer.data = q;
    q->next = p->reqs;
    if (p->reqs)
        p->reqs->prev = q;
    p->reqs = q;
    p->st.active++;
    uint32_t tmo = o.timeout_ms ? o.timeout_ms : p->timeout_ms;
    /* a rendezvous has its own bound (VX_HS_CONNECT_TIMEOUT_MS): let it report */
    if (n.kind == VX_NAME_HIDDEN && !o.timeout_ms && tmo < VX_HS_CONNECT_TIMEOUT_MS + 1000)
        tmo = VX_HS_CONNECT_TIMEOUT_MS + 1000;
    q->deadline_ms = (uint64_t)(ev_now(p->loop) * 1000.0) + tmo;
    ev_timer_set(&q->timer, tmo / 1000.0, 0);
    ev_timer_start(p->loop, &q->timer);

    switch (n.kind) {
    case VX_NAME_IPV6:
        q->kind = K_DIRECT;
        snprintf(q->service, sizeof(q->service), "%s", n.service);
        ipv6_sockaddr(&n.ip6, p->node_port, &q->dest_addr, &q->dest_addrlen);
        q->dest_key[0] = '6';
        memcpy(q->dest_key + 1, &n.ip6, sizeof(n.ip6));
        q->has_dest_key = 1;
        r = route_go(q);
        break;
    case VX_NAME_HIDDEN:
        q->kind = K_HIDDEN;
        snprintf(q->hs_address, sizeof(q->hs_address), "%s", n.address);
        r = hidden_start(q);
        break;
    case VX_NAME_SERVICE:
        q->kind = K_NAMED;
        snprintf(q->service, sizeof(q->service), "%s", n.service);
        q->state = R_RESOLVING;
        r = 0;
        q->rhandle = p->resolver.start(p->rarg, n.user, n.service, resolved_cb, q, &r);
        if (!q->rhandle && r == 0)
            r = VX_ERR_INTERNAL;
        break;
    case VX_NAME_CLEARNET:
        q->kind = K_CLEARNET;
        r = clearnet_start(q, &n);
        break;
    default:
        r = VX_ERR_INTERNAL;
        break;
    }
    if (r < 0) {
        q->stream = NULL;
        req_kill(q);
        *err = r;
        goto fail;
    }
    if (via)
        log_debug(LD_PATH, "%s: alias for %s", host, via);
    *err = 0;
    return q;
fail:
    p->st.failed++;
    return NULL;
}

void vx_path_cancel(struct vx_path_req *req)
{
    if (!req || req->state == R_DEAD)
        return;
    if (req->state != R_OPEN)
        req->p->st.cancelled++;
    req_kill(req);
}

/* ---- describing and resolving ----------------------------------------- */

static int describe(const struct vx_path *p, const char *host, const struct vx_name *n,
                    const char *via, char *out, size_t cap)
{
    char vias[VX_NAME_HOST_MAX + 32] = "";
    if (via)
        snprintf(vias, sizeof(vias), " (alias for %s)", via);
    switch (n->kind) {
    case VX_NAME_IPV6: {
        struct sockaddr_storage ss;
        socklen_t len;
        char a[VX_ADDR_STRLEN];
        ipv6_sockaddr(&n->ip6, p->node_port, &ss, &len);
        vx_addr_format((struct sockaddr *)&ss, len, a, sizeof(a));
        snprintf(out, cap, "%s%s: service %s on the node at %s (direct IPv6 mode, no lookup)", host,
                 vias, n->service, a);
        return 0;
    }
    case VX_NAME_CLEARNET:
        snprintf(out, cap, "%s: clearnet %s, passthrough allowed", host,
                 n->ip_family ? "address" : "host name");
        return 0;
    case VX_NAME_HIDDEN:
        if (!p->hs) {
            snprintf(out, cap, "%s%s: hidden service (not available: no DHT or relays here)", host,
                     vias);
            return VX_ERR_NOTFOUND;
        }
        snprintf(out, cap, "%s%s: hidden service %s.vx6 (rendezvous through relays)", host, vias,
                 n->address);
        return 0;
    default:
        break;
    }
    return VX_ERR_INTERNAL;
}

int vx_path_describe(const struct vx_path *p, const char *host, uint16_t port, char *out,
                     size_t cap)
{
    struct vx_name n;
    const char *via;
    (void)port;
    int r = classify(p, host, &n, &via);
    if (r < 0) {
        snprintf(out, cap, "%s: %s", host, vx_strerror(r));
        return r;
    }
    if (n.kind == VX_NAME_SERVICE) {
        snprintf(out, cap, "%s: named service %s of user %s (needs a lookup)", host, n.service,
                 n.user);
        return 0;
    }
    return describe(p, host, &n, via, out, cap);
}

static void lookup_unlink(struct vx_path_lookup *lk)
{
    struct vx_path *p = lk->p;
    ev_timer_stop(p->loop, &lk->defer);
    if (lk->prev)
        lk->prev->next = lk->next;
    else
        p->lookups = lk->next;
    if (lk->next)
        lk->next->prev = lk->prev;
}

static void lookup_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_path_lookup *lk = w->data;
    (void)loop;
    (void)revents;
    lookup_unlink(lk);
    lk->done(lk->ctx, lk->err, lk->line);
    free(lk);
}

static void lookup_resolved(void *ctx, int err, const struct vx_path_node *node)
{
    struct vx_path_lookup *lk = ctx;
    lk->rhandle = NULL;
    lk->err = err;
    if (err < 0) {
        snprintf(lk->line, sizeof(lk->line), "%s: %s", lk->host, vx_strerror(err));
    } else {
        char id[VX_NODE_ID_STRLEN + 1];
        char a[VX_ADDR_STRLEN] = "no known endpoint";
        vx_node_id_to_str(node->node_id, id, sizeof(id));
        if (node->naddrs)
            vx_addr_format((const struct sockaddr *)&node->addrs[0], node->addrlens[0], a,
                           sizeof(a));
        snprintf(lk->line, sizeof(lk->line), "%s: node %s at %s (+%zu more), found in %s", lk->host,
                 id, a, node->naddrs ? node->naddrs - 1 : 0, node->how);
    }
    lookup_defer_cb(lk->p->loop, &lk->defer, 0);
}

struct vx_path_lookup *vx_path_resolve(struct vx_path *p, const char *host,
                                       vx_path_describe_fn done, void *ctx, int *err)
{
    struct vx_name n;
    const char *via;
    int dummy;
    if (!err)
        err = &dummy;
    struct vx_path_lookup *lk = xcalloc(1, sizeof(*lk));
    lk->p = p;
    lk->done = done;
    lk->ctx = ctx;
    snprintf(lk->host, sizeof(lk->host), "%s", host);
    ev_timer_init(&lk->defer, lookup_defer_cb, 0, 0);
    lk->defer.data = lk;
    int r = classify(p, host, &n, &via);
    if (r == 0 && n.kind == VX_NAME_SERVICE) {
        if (!p->has_resolver) {
            lk->err = VX_ERR_NOTFOUND;
            snprintf(lk->line, sizeof(lk->line),
                     "%s: named service, but the DHT is not running here", host);
        } else {
            lk->rhandle = p->resolver.start(p->rarg, n.user, n.service, lookup_resolved, lk, &r);
            if (!lk->rhandle) {
                free(lk);
                *err = r < 0 ? r : VX_ERR_INTERNAL;
                return NULL;
            }
        }
    } else if (r < 0) {
        lk->err = r;
        snprintf(lk->line, sizeof(lk->line), "%s: %s", host,
                 r == VX_ERR_NOTFOUND ? "no such alias" : vx_strerror(r));
    } else {
        lk->err = describe(p, host, &n, via, lk->line, sizeof(lk->line));
    }
    lk->next = p->lookups;
    if (p->lookups)
        p->lookups->prev = lk;
    p->lookups = lk;
    if (!lk->rhandle)
        ev_timer_start(p->loop, &lk->defer);
    *err = 0;
    return lk;
}

void vx_path_resolve_cancel(struct vx_path_lookup *lk)
{
    if (!lk)
        return;
    if (lk->rhandle)
        lk->p->resolver.cancel(lk->p->rarg, lk->rhandle);
    lookup_unlink(lk);
    free(lk);
}
