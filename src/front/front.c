/* front.c — proxy listener, forward listeners and the per-connection state
 * machine.  See front.h. */
#include "front/front.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "front/errors.h"
#include "front/http.h"
#include "front/pac.h"
#include "front/sniff.h"
#include "front/socks.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define READ_CHUNK 4096
#define RELAY_BUF  (256 * 1024)
#define RELAY_LOW  (RELAY_BUF / 2)
#define OUT_CAP    (VX_PAC_MAX + VX_HTTP_RESP_MAX + 64)

enum cstate {
    C_SNIFF = 1,  /* no byte yet */
    C_SOCKS,      /* SOCKS handshake and request */
    C_HTTP,       /* HTTP request head */
    C_CONNECTING, /* vx_path_connect() pending */
    C_REPLYING,   /* writing the success reply */
    C_SPLICED,    /* the stream owns the socket */
    C_RELAY,      /* clearnet: two sockets relayed here */
    C_DRAIN,      /* writing a final response, then close */
    C_DEAD,       /* waiting for the reaper */
};

enum ckind {
    K_SOCKS4 = 4,
    K_SOCKS5 = 5,
    K_HTTP_CONNECT,
    K_HTTP_FORWARD,
    K_FORWARD, /* a forward listener: no protocol */
};

struct listener {
    struct vx_front *f;
    struct listener *next;
    int fd;
    ev_io io;
    int is_forward;
    int runtime;
    struct sockaddr_storage addr; /* as bound */
    socklen_t addrlen;
    char *host;
    uint16_t port;
    enum vx_route route;
    uint64_t conns;
};

/* Handshake-time state, freed once the request is known. */
union parser {
    struct vx_socks socks;
    struct vx_http http;
};

/* One direction of a clearnet relay. */
struct pipe_dir {
    struct vx_buf *buf;
    unsigned eof : 1;  /* source gave EOF */
    unsigned shut : 1; /* shutdown(dst, SHUT_WR) done */
};

struct conn {
    struct vx_front *f;
    struct conn *prev, *next;
    struct conn *reap_next;
    enum cstate state;
    enum ckind kind;
    int fd;
    ev_io rio, wio;
    ev_timer timer;
    int counted; /* holds a slot in f->limit */
    struct sockaddr_storage peer;
    union parser *ps;
    struct vx_buf *out;   /* bytes for the client (replies) */
    struct vx_buf *early; /* client bytes for the tunnel */
    struct vx_path_req *req;
    struct vx_stream *stream;
    /* clearnet relay */
    int ufd;
    ev_io urio, uwio;
    struct pipe_dir c2u, u2c;
    char host[VX_SOCKS_MAX_HOST + 1];
    uint16_t port;
};

struct vx_front {
    struct ev_loop *loop;
    struct vx_path *path;
    struct listener *proxy;
    struct listener *forwards;
    struct conn *conns;
    struct conn *reap;
    ev_check reaper;
    struct vx_connlimit *limit;
    char *username, *password;
    struct vx_socks_opts socks_opts;
    uint32_t handshake_ms;
    uint32_t max_conns;
    uint32_t max_per_client;
    struct vx_front_stats st;
    uint8_t iso_key[crypto_shorthash_KEYBYTES]; /* keys the isolation hash */
};

/* ---- connection life cycle ---------------------------------------------- */

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void relay_cb(struct ev_loop *loop, ev_io *w, int revents);

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct vx_front *f = w->data;
    (void)revents;
    while (f->reap) {
        struct conn *c = f->reap;
        f->reap = c->reap_next;
        vx_buf_free(c->out);
        vx_buf_free(c->early);
        vx_buf_free(c->c2u.buf);
        vx_buf_free(c->u2c.buf);
        free(c->ps);
        free(c);
    }
    ev_check_stop(loop, w);
}

/* Mark for close: stop everything now, free from the reaper. */
static void conn_close(struct conn *c)
{
    struct vx_front *f = c->f;
    if (c->state == C_DEAD)
        return;
    if (c->state == C_SPLICED || c->state == C_RELAY)
        f->st.tunnels--;
    c->state = C_DEAD;
    ev_io_stop(f->loop, &c->rio);
    ev_io_stop(f->loop, &c->wio);
    ev_io_stop(f->loop, &c->urio);
    ev_io_stop(f->loop, &c->uwio);
    ev_timer_stop(f->loop, &c->timer);
    if (c->req) {
        struct vx_path_req *r = c->req;
        c->req = NULL;
        vx_path_cancel(r); /* closes the stream and a spliced socket */
    }
    if (c->fd >= 0)
        close(c->fd);
    if (c->ufd >= 0)
        close(c->ufd);
    c->fd = c->ufd = -1;
    if (c->counted)
        vx_connlimit_release(f->limit, (struct sockaddr *)&c->peer);
    c->counted = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        f->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    f->st.active--;
    c->reap_next = f->reap;
    f->reap = c;
    ev_check_start(f->loop, &f->reaper);
}

static void timer_restart(struct conn *c, uint32_t ms)
{
    ev_timer_stop(c->f->loop, &c->timer);
    ev_timer_set(&c->timer, ms / 1000.0, 0);
    ev_timer_start(c->f->loop, &c->timer);
}

/* Queue bytes for the client and make sure they get written. */
static void conn_send(struct conn *c, const void *data, size_t len)
{
    if (len == 0)
        return;
    if (!c->out)
        c->out = vx_buf_new(OUT_CAP);
    if (vx_buf_add(c->out, data, len) < 0) {
        log_warn_rl(LD_FRONT, "reply does not fit the output buffer");
        return;
    }
    ev_io_start(c->f->loop, &c->wio);
}

/* Answer and close: the output is written, then the write side shut and
 * input discarded until EOF (so the reply is not lost to a RST), all within
 * VX_FRONT_DRAIN_MS. */
static void conn_drain(struct conn *c)
{
    c->state = C_DRAIN;
    free(c->ps);
    c->ps = NULL;
    ev_io_start(c->f->loop, &c->rio);
    ev_io_start(c->f->loop, &c->wio);
    timer_restart(c, VX_FRONT_DRAIN_MS);
}

static void limited_log(const char *what, const struct sockaddr_storage *ss, socklen_t len)
{
    char a[VX_ADDR_STRLEN];
    static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
    if (vx_addr_format((const struct sockaddr *)ss, len, a, sizeof(a)) < 0)
        snprintf(a, sizeof(a), "?");
    vx_log_rl(&rl, LD_FRONT, VX_LOG_WARN, "%s; closing the connection from %s", what, a);
}

/* The failure of a request, as the client's protocol says it. */
static void conn_fail(struct conn *c, int err)
{
    static struct vx_ratelim rl = VX_RATELIM_INIT(2000);
    char line[160];
    c->f->st.failed++;
    vx_front_err_line(err, c->host, line, sizeof(line));
    vx_log_rl(&rl, LD_FRONT, VX_LOG_INFO, "%s:%u: %s", c->host, c->port, line);
    switch (c->kind) {
    case K_SOCKS4:
    case K_SOCKS5: {
        uint8_t rep[VX_SOCKS_REPLY_MAX];
        uint8_t code = vx_front_socks5_code(err);
        int n = c->kind == K_SOCKS5 ? vx_socks5_encode_reply(code, NULL, rep, sizeof(rep))
                                    : vx_socks4_encode_reply(code, NULL, rep, sizeof(rep));
        if (n > 0)
            conn_send(c, rep, (size_t)n);
        break;
    }
    case K_HTTP_CONNECT:
    case K_HTTP_FORWARD: {
        char resp[VX_HTTP_RESP_MAX];
        int n = vx_http_error_for(err, c->host, resp, sizeof(resp));
        if (n > 0)
            conn_send(c, resp, (size_t)n);
        break;
    }
    case K_FORWARD:
        break; /* nothing to say to a plain TCP client */
    }
    conn_drain(c);
}

/* ---- the tunnel ----------------------------------------------------------- */

static void path_connected(struct vx_path_req *req, int err, struct vx_stream *stream, int fd,
                           void *arg);
static void path_closed(struct vx_path_req *req, int err, void *arg);

static const struct vx_path_cbs path_cbs = {
        .on_connected = path_connected,
        .on_closed = path_closed,
};

static void conn_splice(struct conn *c)
{
    struct vx_front *f = c->f;
    uint8_t *data = NULL;
    size_t len = c->early ? vx_buf_len(c->early) : 0;
    int fd = c->fd;
    if (len) {
        data = malloc(len);
        if (!data)
            abort();
        vx_buf_copyout(c->early, data, len);
    }
    vx_buf_free(c->early);
    c->early = NULL;
    vx_buf_free(c->out);
    c->out = NULL;
    ev_io_stop(f->loop, &c->rio);
    ev_io_stop(f->loop, &c->wio);
    ev_timer_stop(f->loop, &c->timer);
    c->fd = -1; /* the stream owns it now, even on error */
    c->state = C_SPLICED;
    f->st.tunnels++;
    f->st.tunnels_total++;
    struct vx_stream *s = c->stream;
    c->stream = NULL;
    int r = vx_stream_splice_data(s, fd, data, len);
    free(data);
    if (r < 0 && c->state == C_SPLICED) {
        log_warn_rl(LD_FRONT, "%s:%u: splice failed: %s", c->host, c->port, vx_strerror(r));
        conn_close(c);
    }
}

static void relay_update(struct conn *c);

static void conn_relay(struct conn *c, int ufd)
{
    struct vx_front *f = c->f;
    c->ufd = ufd;
    c->state = C_RELAY;
    f->st.tunnels++;
    f->st.tunnels_total++;
    ev_timer_stop(f->loop, &c->timer);
    c->c2u.buf = vx_buf_new(RELAY_BUF);
    c->u2c.buf = vx_buf_new(RELAY_BUF);
    if (c->early) {
        const uint8_t *p;
        size_t n;
        while ((n = vx_buf_peek(c->early, &p)) > 0) {
            vx_buf_add(c->c2u.buf, p, n);
            vx_buf_drain(c->early, n);
        }
        vx_buf_free(c->early);
        c->early = NULL;
    }
    ev_io_set(&c->urio, ufd, EV_READ);
    ev_io_set(&c->uwio, ufd, EV_WRITE);
    ev_io_stop(f->loop, &c->rio);
    ev_io_stop(f->loop, &c->wio);
    ev_set_cb(&c->rio, relay_cb);
    ev_set_cb(&c->wio, relay_cb);
    relay_update(c);
}

/* The success reply is out: hand the socket over. */
static void conn_tunnel_up(struct conn *c)
{
    if (c->stream)
        conn_splice(c);
}

static void path_connected(struct vx_path_req *req, int err, struct vx_stream *stream, int fd,
                           void *arg)
{
    struct conn *c = arg;
    (void)req;
    if (err < 0) {
        c->req = NULL;
        conn_fail(c, err);
        return;
    }
    if (fd >= 0)
        c->req = NULL; /* clearnet: the request is done */
    c->stream = stream;
    switch (c->kind) {
    case K_SOCKS4:
    case K_SOCKS5: {
        uint8_t rep[VX_SOCKS_REPLY_MAX];
        int n = c->kind == K_SOCKS5 ? vx_socks5_encode_reply(0, NULL, rep, sizeof(rep))
                                    : vx_socks4_encode_reply(0, NULL, rep, sizeof(rep));
        if (n > 0)
            conn_send(c, rep, (size_t)n);
        break;
    }
    case K_HTTP_CONNECT: {
        char ok[64];
        int n = vx_http_connect_ok(ok, sizeof(ok));
        if (n > 0)
            conn_send(c, ok, (size_t)n);
        break;
    }
    case K_HTTP_FORWARD:
    case K_FORWARD:
        break;
    }
    if (fd >= 0) {
        /* The relay writes c->out before anything from upstream. */
        conn_relay(c, fd);
        if (c->out) {
            const uint8_t *p;
            size_t n;
            while ((n = vx_buf_peek(c->out, &p)) > 0) {
                vx_buf_add(c->u2c.buf, p, n);
                vx_buf_drain(c->out, n);
            }
            relay_update(c);
        }
        return;
    }
    c->state = C_REPLYING;
    if (!c->out || vx_buf_len(c->out) == 0)
        conn_tunnel_up(c);
    else
        ev_io_start(c->f->loop, &c->wio);
}

static void path_closed(struct vx_path_req *req, int err, void *arg)
{
    struct conn *c = arg;
    (void)req;
    (void)err;
    c->req = NULL;
    conn_close(c);
}

static void conn_start_connect(struct conn *c, const struct vx_path_opts *opts)
{
    int err = 0;
    c->state = C_CONNECTING;
    free(c->ps);
    c->ps = NULL;
    /* Keep reading: early data, and EOF cancels the request. */
    ev_io_start(c->f->loop, &c->rio);
    ev_timer_stop(c->f->loop, &c->timer);
    c->req = vx_path_connect(c->f->path, c->host, c->port, opts, &path_cbs, c, &err);
    if (!c->req)
        conn_fail(c, err < 0 ? err : VX_ERR_INTERNAL);
}

static int early_add(struct conn *c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (!c->early)
        c->early = vx_buf_new(VX_FRONT_EARLY_MAX + VX_HTTP_REWRITE_MAX);
    return vx_buf_add(c->early, p, n);
}

/* ---- SOCKS ---------------------------------------------------------------- */

/* Stream isolation as Tor's IsolateSOCKSAuth: the client's username and
 * password (both, exactly) pick the session.  A keyed hash, never 0 (0 is the
 * shared session), so equal credentials always give the same key. */
static uint64_t socks_isolation(const struct vx_front *f, const struct vx_socks_request *q)
{
    uint8_t buf[VX_SOCKS_MAX_USER + VX_SOCKS_MAX_PASS + 2], h[crypto_shorthash_BYTES];
    size_t ul = strlen(q->username), pl = strlen(q->password);
    uint64_t k = 0;

    memcpy(buf, q->username, ul + 1); /* the NUL separates: "a"+"bc" != "ab"+"c" */
    memcpy(buf + ul + 1, q->password, pl + 1);
    crypto_shorthash(h, buf, ul + pl + 2, f->iso_key);
    for (int i = 0; i < 8; i++)
        k = k << 8 | h[i];
    return k ? k : 1;
}

static void socks_flush(struct conn *c)
{
    size_t n;
    const uint8_t *o = vx_socks_output(&c->ps->socks, &n);
    conn_send(c, o, n);
    vx_socks_output_clear(&c->ps->socks);
}

static void socks_input(struct conn *c, const uint8_t *buf, size_t len)
{
    size_t used = 0;
    int r = vx_socks_feed(&c->ps->socks, buf, len, &used);
    socks_flush(c);
    if (r == VX_SOCKS_MORE)
        return;
    if (r < 0) {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_FRONT, VX_LOG_INFO, "bad SOCKS request: %s", vx_strerror(r));
        c->f->st.failed++;
        conn_drain(c);
        return;
    }
    const struct vx_socks_request *q = vx_socks_request(&c->ps->socks);
    struct vx_path_opts opts = {VX_ROUTE_AUTO, 0, 0, 0};
    c->kind = q->version == 4 ? K_SOCKS4 : K_SOCKS5;
    snprintf(c->host, sizeof(c->host), "%s", q->host);
    c->port = q->port;
    if (early_add(c, buf + used, len - used) < 0) {
        conn_fail(c, VX_ERR_TOOBIG);
        return;
    }
    if (c->port == 0) {
        conn_fail(c, VX_ERR_BADADDR);
        return;
    }
    /* Without socks_auth the username may carry per-request options, and
     * the credentials isolate: a session of their own to each node.  (With
     * socks_auth every client sends the same ones: nothing to isolate.) */
    if (!c->f->username && q->has_auth) {
        if (vx_path_opts_parse(&opts, q->username) < 0) {
            conn_fail(c, VX_ERR_INVAL);
            return;
        }
        opts.isolation = socks_isolation(c->f, q);
    }
    conn_start_connect(c, &opts);
}

/* ---- HTTP ----------------------------------------------------------------- */

static void http_pac(struct conn *c, const struct vx_http_req *q)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[VX_ADDR_STRLEN], body[VX_PAC_MAX], head[VX_HTTP_RESP_MAX];
    int blen, hlen;
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0) {
        conn_fail(c, VX_ERR_SYS);
        return;
    }
    vx_addr_unmap(&ss, &len);
    if (vx_addr_format_ip((struct sockaddr *)&ss, len, host, sizeof(host)) < 0 ||
        (blen = vx_pac_build(host, vx_addr_port((struct sockaddr *)&ss), VX_PAC_VX6_ONLY, body,
                             sizeof(body))) < 0 ||
        (hlen = vx_http_response_head(200, "application/x-ns-proxy-autoconfig", (size_t)blen, head,
                                      sizeof(head))) < 0) {
        conn_fail(c, VX_ERR_INTERNAL);
        return;
    }
    c->f->st.pac++;
    conn_send(c, head, (size_t)hlen);
    if (q->method != HTTP_HEAD)
        conn_send(c, body, (size_t)blen);
    conn_drain(c);
}

static void http_input(struct conn *c, const uint8_t *buf, size_t len)
{
    size_t used = 0;
    char resp[VX_HTTP_RESP_MAX];
    int n;
    int r = vx_http_feed(&c->ps->http, (const char *)buf, len, &used);
    if (r == VX_HTTP_MORE)
        return;
    if (r < 0) {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_FRONT, VX_LOG_INFO, "bad HTTP request: %s", vx_strerror(r));
        c->f->st.failed++;
        if ((n = vx_http_fail_response(&c->ps->http, resp, sizeof(resp))) > 0)
            conn_send(c, resp, (size_t)n);
        conn_drain(c);
        return;
    }
    const struct vx_http_req *q = vx_http_request(&c->ps->http);
    c->kind = q->kind == VX_HTTP_FORWARD ? K_HTTP_FORWARD : K_HTTP_CONNECT;
    if (vx_http_check_auth(&c->ps->http, c->f->username, c->f->password) < 0) {
        c->f->st.failed++;
        n = vx_http_error_response(407, "vx6: proxy authentication required", resp, sizeof(resp));
        if (n > 0)
            conn_send(c, resp, (size_t)n);
        conn_drain(c);
        return;
    }
    switch (q->kind) {
    case VX_HTTP_PAC:
        http_pac(c, q);
        return;
    case VX_HTTP_LOCAL:
        c->f->st.failed++;
        n = vx_http_error_response(404,
                                   "vx6: this is a proxy: use CONNECT, absolute URLs or /proxy.pac",
                                   resp, sizeof(resp));
        if (n > 0)
            conn_send(c, resp, (size_t)n);
        conn_drain(c);
        return;
    case VX_HTTP_CONNECT:
    case VX_HTTP_FORWARD:
        break;
    }
    snprintf(c->host, sizeof(c->host), "%s", q->host);
    c->port = q->port;
    if (q->kind == VX_HTTP_FORWARD) {
        char *head = malloc(VX_HTTP_REWRITE_MAX);
        if (!head)
            abort();
        n = vx_http_rewrite_head(&c->ps->http, head, VX_HTTP_REWRITE_MAX);
        if (n < 0 || early_add(c, (const uint8_t *)head, (size_t)n) < 0) {
            free(head);
            conn_fail(c, n < 0 ? n : VX_ERR_TOOBIG);
            return;
        }
        free(head);
    }
    if (early_add(c, buf + used, len - used) < 0) {
        conn_fail(c, VX_ERR_TOOBIG);
        return;
    }
    conn_start_connect(c, NULL);
}

/* ---- socket callbacks ------------------------------------------------------ */

static void conn_input(struct conn *c, const uint8_t *buf, size_t len)
{
    if (c->state == C_SNIFF) {
        enum vx_front_proto p = vx_front_sniff(buf, len);
        switch (p) {
        case VX_FRONT_SOCKS4:
        case VX_FRONT_SOCKS5:
            c->ps = xcalloc(1, sizeof(c->ps->socks));
            vx_socks_init(&c->ps->socks, c->f->username ? &c->f->socks_opts : NULL);
            c->state = C_SOCKS;
            break;
        case VX_FRONT_HTTP:
            c->ps = xcalloc(1, sizeof(c->ps->http));
            vx_http_init(&c->ps->http);
            c->state = C_HTTP;
            break;
        default: {
            static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
            vx_log_rl(&rl, LD_FRONT, VX_LOG_INFO, "client speaks neither SOCKS nor HTTP; closing");
            c->f->st.failed++;
            conn_drain(c);
            return;
        }
        }
    }
    if (c->state == C_SOCKS)
        socks_input(c, buf, len);
    else if (c->state == C_HTTP)
        http_input(c, buf, len);
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    uint8_t buf[READ_CHUNK];
    ssize_t n;
    (void)revents;

    if (c->state == C_CONNECTING || c->state == C_REPLYING) {
        size_t room = c->early ? vx_buf_space(c->early) : VX_FRONT_EARLY_MAX;
        if (room > VX_FRONT_EARLY_MAX)
            room = VX_FRONT_EARLY_MAX;
        if (c->early && vx_buf_len(c->early) >= VX_FRONT_EARLY_MAX)
            room = 0;
        if (room == 0) {
            ev_io_stop(loop, w); /* the tunnel will read the rest */
            return;
        }
        if (room > sizeof(buf))
            room = sizeof(buf);
        n = read(c->fd, buf, room);
        if (n > 0) {
            early_add(c, buf, (size_t)n);
            return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n == 0 && c->kind == K_FORWARD) {
            /* A plain TCP client may half-close at once ("echo x | nc -N"):
             * the stream reads the EOF again and sends FIN after the data. */
            ev_io_stop(loop, w);
            return;
        }
        /* A proxy client that closes before its reply has left: cancel. */
        log_debug(LD_FRONT, "%s:%u: client gone while connecting (%s)", c->host, c->port,
                  n == 0 ? "EOF" : strerror(errno));
        if (c->req)
            c->f->st.failed++;
        conn_close(c);
        return;
    }
    /* Handshake states read one chunk at a time; DRAIN discards. */
    n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->state != C_DRAIN && c->state != C_SNIFF)
            log_debug(LD_FRONT, "client closed during the handshake");
        conn_close(c);
        return;
    }
    if (c->state == C_DRAIN)
        return;
    conn_input(c, buf, (size_t)n);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    (void)revents;
    if (c->out && vx_buf_len(c->out) > 0) {
        ssize_t r = vx_buf_write_fd(c->out, c->fd);
        if (r < 0 && r != VX_ERR_AGAIN) {
            conn_close(c);
            return;
        }
        if (vx_buf_len(c->out) > 0)
            return;
    }
    ev_io_stop(loop, w);
    if (c->state == C_DRAIN)
        shutdown(c->fd, SHUT_WR); /* then wait for the client's EOF */
    else if (c->state == C_REPLYING)
        conn_tunnel_up(c);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    (void)loop;
    (void)revents;
    switch (c->state) {
    case C_SNIFF:
    case C_SOCKS:
    case C_HTTP: {
        static struct vx_ratelim rl = VX_RATELIM_INIT(5000);
        vx_log_rl(&rl, LD_FRONT, VX_LOG_INFO, "client did not finish its request in time; closing");
        c->f->st.timeouts++;
        if (c->state == C_HTTP) {
            char resp[VX_HTTP_RESP_MAX];
            int n = vx_http_error_response(408, "vx6: request not completed in time", resp,
                                           sizeof(resp));
            c->kind = K_HTTP_CONNECT;
            if (n > 0)
                conn_send(c, resp, (size_t)n);
            conn_drain(c);
            return;
        }
        conn_close(c);
        return;
    }
    default:
        conn_close(c);
        return;
    }
}

/* ---- clearnet relay ------------------------------------------------------- */

static void relay_update(struct conn *c)
{
    struct ev_loop *loop = c->f->loop;
    /* client -> upstream */
    if (!c->c2u.eof && vx_buf_len(c->c2u.buf) < RELAY_LOW)
        ev_io_start(loop, &c->rio);
    else if (c->c2u.eof || vx_buf_space(c->c2u.buf) == 0)
        ev_io_stop(loop, &c->rio);
    if (vx_buf_len(c->c2u.buf) > 0)
        ev_io_start(loop, &c->uwio);
    else
        ev_io_stop(loop, &c->uwio);
    /* upstream -> client */
    if (!c->u2c.eof && vx_buf_len(c->u2c.buf) < RELAY_LOW)
        ev_io_start(loop, &c->urio);
    else if (c->u2c.eof || vx_buf_space(c->u2c.buf) == 0)
        ev_io_stop(loop, &c->urio);
    if (vx_buf_len(c->u2c.buf) > 0)
        ev_io_start(loop, &c->wio);
    else
        ev_io_stop(loop, &c->wio);
    /* half-close once a direction is drained */
    if (c->c2u.eof && !c->c2u.shut && vx_buf_len(c->c2u.buf) == 0) {
        shutdown(c->ufd, SHUT_WR);
        c->c2u.shut = 1;
    }
    if (c->u2c.eof && !c->u2c.shut && vx_buf_len(c->u2c.buf) == 0) {
        shutdown(c->fd, SHUT_WR);
        c->u2c.shut = 1;
    }
    if (c->c2u.shut && c->u2c.shut)
        conn_close(c);
}

static void relay_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    ssize_t r;
    (void)loop;
    (void)revents;
    if (w == &c->rio || w == &c->urio) {
        struct pipe_dir *d = w == &c->rio ? &c->c2u : &c->u2c;
        int src = w == &c->rio ? c->fd : c->ufd;
        r = vx_buf_read_fd(d->buf, src, RELAY_BUF);
        if (r == 0)
            d->eof = 1;
        else if (r < 0 && r != VX_ERR_AGAIN)
            goto broken;
    } else {
        struct pipe_dir *d = w == &c->wio ? &c->u2c : &c->c2u;
        int dst = w == &c->wio ? c->fd : c->ufd;
        r = vx_buf_write_fd(d->buf, dst);
        if (r < 0 && r != VX_ERR_AGAIN)
            goto broken;
    }
    relay_update(c);
    return;
broken:
    conn_close(c);
}

/* ---- listeners ------------------------------------------------------------- */

static struct conn *conn_new(struct vx_front *f, int fd, const struct sockaddr_storage *peer)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->f = f;
    c->fd = fd;
    c->ufd = -1;
    c->peer = *peer;
    c->counted = 1;
    c->state = C_SNIFF;
    ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
    ev_io_init(&c->urio, relay_cb, -1, EV_READ);
    ev_io_init(&c->uwio, relay_cb, -1, EV_WRITE);
    c->rio.data = c->wio.data = c->urio.data = c->uwio.data = c;
    ev_timer_init(&c->timer, conn_timer_cb, 0, 0);
    c->timer.data = c;
    c->next = f->conns;
    if (f->conns)
        f->conns->prev = c;
    f->conns = c;
    f->st.active++;
    f->st.accepted++;
    return c;
}

static void listener_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct listener *l = w->data;
    struct vx_front *f = l->f;
    (void)loop;
    (void)revents;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_warn_rl(LD_FRONT, "accept: %s", strerror(errno));
            return;
        }
        if (vx_connlimit_acquire(f->limit, (struct sockaddr *)&ss) < 0) {
            f->st.limited++;
            limited_log(vx_connlimit_total(f->limit) >= f->max_conns
                                ? "too many connections"
                                : "too many connections from one client",
                        &ss, len);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = conn_new(f, fd, &ss);
        l->conns++;
        if (l->is_forward) {
            struct vx_path_opts opts = {l->route, 0, 0, 0};
            c->kind = K_FORWARD;
            snprintf(c->host, sizeof(c->host), "%s", l->host);
            c->port = l->port;
            conn_start_connect(c, &opts);
        } else {
            ev_io_start(f->loop, &c->rio);
            timer_restart(c, f->handshake_ms);
        }
    }
}

static int listener_open(struct vx_front *f, const struct sockaddr *sa, socklen_t len,
                         struct listener **out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    if (fd < 0)
        return VX_ERR_SYS;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6 && vx_addr_is_any(sa))
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, sa, len) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return VX_ERR_SYS;
    }
    struct listener *l = xcalloc(1, sizeof(*l));
    l->f = f;
    l->fd = fd;
    l->addrlen = sizeof(l->addr);
    if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) < 0) {
        memcpy(&l->addr, sa, len);
        l->addrlen = len;
    }
    ev_io_init(&l->io, listener_cb, fd, EV_READ);
    l->io.data = l;
    ev_io_start(f->loop, &l->io);
    *out = l;
    return 0;
}

static void listener_free(struct vx_front *f, struct listener *l)
{
    if (!l)
        return;
    ev_io_stop(f->loop, &l->io);
    close(l->fd);
    free(l->host);
    free(l);
}

struct vx_front *vx_front_new(struct ev_loop *loop, struct vx_path *path)
{
    struct vx_front *f = xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->path = path;
    ev_check_init(&f->reaper, reap_cb);
    f->reaper.data = f;
    if (sodium_init() < 0)
        abort();
    crypto_shorthash_keygen(f->iso_key);
    vx_front_configure(f, NULL);
    return f;
}

void vx_front_free(struct vx_front *f)
{
    if (!f)
        return;
    listener_free(f, f->proxy);
    while (f->forwards) {
        struct listener *l = f->forwards;
        f->forwards = l->next;
        listener_free(f, l);
    }
    while (f->conns)
        conn_close(f->conns);
    reap_cb(f->loop, &f->reaper, 0);
    vx_connlimit_free(f->limit);
    free(f->username);
    free(f->password);
    free(f);
}

int vx_front_configure(struct vx_front *f, const struct vx_front_conf *conf)
{
    struct vx_front_conf d = {0};
    if (!conf)
        conf = &d;
    if (!conf->username != !conf->password)
        return VX_ERR_INVAL;
    if (conf->username &&
        (strlen(conf->username) > VX_SOCKS_MAX_USER || strlen(conf->password) > VX_SOCKS_MAX_PASS))
        return VX_ERR_INVAL;
    free(f->username);
    free(f->password);
    f->username = conf->username ? xstrdup(conf->username) : NULL;
    f->password = conf->password ? xstrdup(conf->password) : NULL;
    f->socks_opts.username = f->username;
    f->socks_opts.password = f->password;
    f->handshake_ms =
            conf->handshake_timeout_ms ? conf->handshake_timeout_ms : VX_FRONT_DEFAULT_HANDSHAKE_MS;
    uint32_t max_total = conf->max_conns ? conf->max_conns : VX_FRONT_DEFAULT_MAX_CONNS;
    uint32_t max_per =
            conf->max_conns_per_client ? conf->max_conns_per_client : VX_FRONT_DEFAULT_MAX_PER_CLI;
    if (!f->limit || max_total != f->max_conns || max_per != f->max_per_client) {
        /* New limits: count the open connections again in a new table
         * (those over the new limits stay open, uncounted). */
        vx_connlimit_free(f->limit);
        f->limit = vx_connlimit_new(max_total, max_per);
        for (struct conn *c = f->conns; c; c = c->next)
            c->counted = vx_connlimit_acquire(f->limit, (struct sockaddr *)&c->peer) == 0;
    }
    f->max_conns = max_total;
    f->max_per_client = max_per;
    return 0;
}

int vx_front_listen(struct vx_front *f, const struct sockaddr *sa, socklen_t len)
{
    if (f->proxy)
        return VX_ERR_EXISTS;
    return listener_open(f, sa, len, &f->proxy);
}

int vx_front_local_addr(const struct vx_front *f, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!f->proxy)
        return VX_ERR_NOTFOUND;
    memcpy(ss, &f->proxy->addr, f->proxy->addrlen);
    *len = f->proxy->addrlen;
    return 0;
}

static struct listener *forward_find(const struct vx_front *f, const struct sockaddr *sa)
{
    for (struct listener *l = f->forwards; l; l = l->next)
        if (vx_addr_cmp((struct sockaddr *)&l->addr, sa) == 0)
            return l;
    return NULL;
}

int vx_front_add_forward(struct vx_front *f, const struct sockaddr *sa, socklen_t len,
                         const char *host, uint16_t port, enum vx_route route, int runtime,
                         struct sockaddr_storage *bound, socklen_t *bound_len)
{
    char line[256];
    struct listener *l;
    int r;
    if (!host || port == 0)
        return VX_ERR_INVAL;
    r = vx_path_describe(f->path, host, port, line, sizeof(line));
    if (r == VX_ERR_BADADDR || r == VX_ERR_TOOBIG || r == VX_ERR_DENIED)
        return r;
    if (vx_addr_port(sa) != 0 && forward_find(f, sa))
        return VX_ERR_EXISTS;
    if ((r = listener_open(f, sa, len, &l)) < 0)
        return r;
    l->is_forward = 1;
    l->runtime = runtime;
    l->host = xstrdup(host);
    l->port = port;
    l->route = route;
    l->next = f->forwards;
    f->forwards = l;
    if (bound) {
        memcpy(bound, &l->addr, l->addrlen);
        *bound_len = l->addrlen;
    }
    {
        char a[VX_ADDR_STRLEN];
        vx_addr_format((struct sockaddr *)&l->addr, l->addrlen, a, sizeof(a));
        log_info(LD_FRONT, "forward %s -> %s:%u (route %s)", a, host, port, vx_route_name(route));
    }
    return 0;
}

int vx_front_remove_forward(struct vx_front *f, const struct sockaddr *sa, socklen_t len)
{
    (void)len;
    for (struct listener **pp = &f->forwards; *pp; pp = &(*pp)->next) {
        struct listener *l = *pp;
        if (vx_addr_cmp((struct sockaddr *)&l->addr, sa) == 0) {
            *pp = l->next;
            listener_free(f, l);
            return 0;
        }
    }
    return VX_ERR_NOTFOUND;
}

static int forward_same(const struct listener *l, const struct vx_front_forward_def *d)
{
    return vx_addr_cmp((const struct sockaddr *)&l->addr, (const struct sockaddr *)&d->listen) ==
                   0 &&
           !strcmp(l->host, d->host) && l->port == d->port && l->route == d->route;
}

int vx_front_set_forwards(struct vx_front *f, const struct vx_front_forward_def *defs, size_t n)
{
    int first = 0;
    /* Close configured forwards that are gone or changed. */
    for (struct listener **pp = &f->forwards; *pp;) {
        struct listener *l = *pp;
        int keep = l->runtime;
        for (size_t i = 0; !keep && i < n; i++)
            keep = forward_same(l, &defs[i]);
        if (!keep) {
            *pp = l->next;
            listener_free(f, l);
        } else {
            pp = &l->next;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int have = 0;
        for (struct listener *l = f->forwards; l && !have; l = l->next)
            have = !l->runtime && forward_same(l, &defs[i]);
        if (have)
            continue;
        int r = vx_front_add_forward(f, (const struct sockaddr *)&defs[i].listen,
                                     defs[i].listen_len, defs[i].host, defs[i].port, defs[i].route,
                                     0, NULL, NULL);
        if (r < 0) {
            char a[VX_ADDR_STRLEN];
            vx_addr_format((const struct sockaddr *)&defs[i].listen, defs[i].listen_len, a,
                           sizeof(a));
            log_warn(LD_FRONT, "forward %s -> %s:%u: %s%s%s", a, defs[i].host, defs[i].port,
                     vx_strerror(r), r == VX_ERR_SYS ? ": " : "",
                     r == VX_ERR_SYS ? strerror(errno) : "");
            if (!first)
                first = r;
        }
    }
    return first;
}

void vx_front_foreach_forward(const struct vx_front *f, vx_front_forward_fn fn, void *arg)
{
    struct vx_front_forward_info info;
    for (const struct listener *l = f->forwards; l; l = l->next) {
        memset(&info, 0, sizeof(info));
        memcpy(&info.listen, &l->addr, l->addrlen);
        info.listen_len = l->addrlen;
        info.host = l->host;
        info.port = l->port;
        info.route = l->route;
        info.runtime = l->runtime;
        info.conns = l->conns;
        fn(&info, arg);
    }
}

void vx_front_get_stats(const struct vx_front *f, struct vx_front_stats *st)
{
    *st = f->st;
}
