/* http.c — HTTP proxy request parsing on llhttp, and proxy responses. */
#include "front/http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "front/errors.h"
#include "lib/err.h"
#include "lib/log.h"

enum { ST_HEAD = 0, ST_DONE, ST_FAILED };
enum { CB_NONE = 0, CB_FIELD, CB_VALUE };

#define from_parser(p) ((struct vx_http *)((char *)(p)-offsetof(struct vx_http, parser)))

static int arena_put(struct vx_http *h, const char *at, size_t len)
{
    if (len > sizeof(h->arena) - h->arena_len) {
        h->err = VX_ERR_TOOBIG;
        return -1;
    }
    memcpy(h->arena + h->arena_len, at, len);
    h->arena_len += len;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct vx_http *h = from_parser(p);
    if (arena_put(h, at, len) < 0)
        return -1;
    h->url_len = (uint16_t)h->arena_len; /* the URL comes first in the arena */
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct vx_http *h = from_parser(p);
    if (h->last_cb != CB_FIELD) {
        if (h->nhdr >= VX_HTTP_MAX_HEADERS) {
            h->err = VX_ERR_TOOBIG;
            return -1;
        }
        h->hdr[h->nhdr].name_off = (uint16_t)h->arena_len;
        h->hdr[h->nhdr].name_len = 0;
        h->hdr[h->nhdr].val_off = (uint16_t)h->arena_len;
        h->hdr[h->nhdr].val_len = 0;
        h->nhdr++;
        h->last_cb = CB_FIELD;
    }
    if (arena_put(h, at, len) < 0)
        return -1;
    h->hdr[h->nhdr - 1].name_len = (uint16_t)(h->hdr[h->nhdr - 1].name_len + len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct vx_http *h = from_parser(p);
    if (h->nhdr == 0)
        return -1; /* llhttp always reports a field first */
    struct vx_http_hdr *hd = &h->hdr[h->nhdr - 1];
    if (h->last_cb != CB_VALUE) {
        hd->val_off = (uint16_t)h->arena_len;
        hd->val_len = 0;
        h->last_cb = CB_VALUE;
    }
    if (arena_put(h, at, len) < 0)
        return -1;
    hd->val_len = (uint16_t)(hd->val_len + len);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    /* Stop right after the head: what follows is the caller's. */
    return HPE_PAUSED;
}

static const llhttp_settings_t http_settings = {
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
};

void vx_http_init(struct vx_http *h)
{
    /* The arena need not be cleared: only arena_len bytes are ever read. */
    memset(h, 0, offsetof(struct vx_http, arena));
    llhttp_init(&h->parser, HTTP_REQUEST, &http_settings);
    h->state = ST_HEAD;
}

void vx_http_reset(struct vx_http *h)
{
    vx_http_init(h);
}

static int fail(struct vx_http *h, int err)
{
    h->state = ST_FAILED;
    h->err = err;
    h->status = err == VX_ERR_TOOBIG ? 431 : 400;
    log_debug(LD_FRONT, "HTTP proxy request rejected: %s", vx_strerror(err));
    return err;
}

static int is_host_char(char c)
{
    /* RFC 3986 reg-name characters plus '_'; no '%': no zones, no escapes. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 9110 token characters (field names). */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Parse "host:port" or "[v6]:port" (port optional when default_port > 0). */
static int parse_authority(struct vx_http *h, const char *s, size_t len, int default_port)
{
    const char *host, *port = NULL;
    size_t hlen, plen = 0;
    long pv;

    if (len == 0)
        return VX_ERR_BADADDR;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', len);
        char tmp[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (!end)
            return VX_ERR_BADADDR;
        host = s + 1;
        hlen = (size_t)(end - host);
        if (hlen == 0 || hlen >= sizeof(tmp))
            return VX_ERR_BADADDR;
        memcpy(tmp, host, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return VX_ERR_BADADDR;
        if (end + 1 < s + len) {
            if (end[1] != ':')
                return VX_ERR_BADADDR;
            port = end + 2;
            plen = (size_t)(s + len - port);
        }
    } else {
        const char *colon = memchr(s, ':', len);
        host = s;
        hlen = colon ? (size_t)(colon - s) : len;
        if (colon) {
            port = colon + 1;
            plen = (size_t)(s + len - port);
        }
        if (hlen == 0)
            return VX_ERR_BADADDR;
        for (size_t i = 0; i < hlen; i++)
            if (!is_host_char(host[i]))
                return VX_ERR_BADADDR;
    }
    if (hlen > VX_HTTP_HOST_MAX)
        return VX_ERR_BADADDR;
    if (port) {
        if (plen == 0 || plen > 5)
            return VX_ERR_BADADDR;
        pv = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return VX_ERR_BADADDR;
            pv = pv * 10 + (port[i] - '0');
        }
    } else if (default_port > 0) {
        pv = default_port;
    } else {
        return VX_ERR_BADADDR;
    }
    if (pv < 1 || pv > 65535)
        return VX_ERR_BADADDR;
    memcpy(h->req.host, host, hlen);
    h->req.host[hlen] = '\0';
    h->req.port = (uint16_t)pv;
    return 0;
}

static int hdr_is(const struct vx_http *h, const struct vx_http_hdr *hd, const char *name)
{
    size_t n = strlen(name);
    return hd->name_len == n && strncasecmp(h->arena + hd->name_off, name, n) == 0;
}

const char *vx_http_header(const struct vx_http *h, const char *name, size_t *len)
{
    for (unsigned i = 0; i < h->nhdr; i++) {
        if (hdr_is(h, &h->hdr[i], name)) {
            *len = h->hdr[i].val_len;
            return h->arena + h->hdr[i].val_off;
        }
    }
    return NULL;
}

/* Does the comma-separated list v contain token tok (case-insensitive)? */
static int list_has(const char *v, size_t len, const char *tok, size_t toklen)
{
    size_t i = 0;
    while (i < len) {
        size_t start, end;
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        start = i;
        while (i < len && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == toklen && strncasecmp(v + start, tok, toklen) == 0)
            return 1;
    }
    return 0;
}

/* ---- base64 (RFC 4648, standard alphabet) for Basic credentials ---- */
static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, pad = 0;

    while (len && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if ((len + pad) % 4 != 0 && pad)
        return VX_ERR_INVAL;
    if (len % 4 == 1)
        return VX_ERR_INVAL;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return VX_ERR_INVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return VX_ERR_TOOBIG;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *outlen = n;
    return 0;
}

int vx_http_parse_basic(const char *v, size_t len, char user[VX_HTTP_CRED_MAX + 1],
                        char pass[VX_HTTP_CRED_MAX + 1])
{
    uint8_t dec[2 * VX_HTTP_CRED_MAX + 2];
    size_t n = 0, i = 0;
    const uint8_t *colon;

    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (len - i < 6 || strncasecmp(v + i, "basic", 5) != 0 || (v[i + 5] != ' ' && v[i + 5] != '\t'))
        return VX_ERR_INVAL;
    i += 6;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (b64_decode(v + i, len - i, dec, sizeof(dec), &n) < 0)
        return VX_ERR_INVAL;
    colon = memchr(dec, ':', n);
    if (!colon || memchr(dec, 0, n))
        return VX_ERR_INVAL;
    size_t ul = (size_t)(colon - dec), pl = n - ul - 1;
    if (ul > VX_HTTP_CRED_MAX || pl > VX_HTTP_CRED_MAX)
        return VX_ERR_INVAL;
    memcpy(user, dec, ul);
    user[ul] = '\0';
    memcpy(pass, colon + 1, pl);
    pass[pl] = '\0';
    return 0;
}

/* The head is complete: classify it. */
static int finish(struct vx_http *h)
{
    struct vx_http_req *q = &h->req;
    const char *url = h->arena;
    size_t ulen = h->url_len, vlen;
    const char *v;
    int rc;

    q->method = llhttp_get_method(&h->parser);
    if (llhttp_get_http_major(&h->parser) != 1)
        return VX_ERR_PROTO;
    q->http_minor = llhttp_get_http_minor(&h->parser);
    for (unsigned i = 0; i < h->nhdr; i++) {
        struct vx_http_hdr *hd = &h->hdr[i];
        if (hd->name_len == 0)
            return VX_ERR_PROTO;
        for (size_t k = 0; k < hd->name_len; k++)
            if (!is_tchar(h->arena[hd->name_off + k]))
                return VX_ERR_PROTO;
        while (hd->val_len && (h->arena[hd->val_off + hd->val_len - 1] == ' ' ||
                               h->arena[hd->val_off + hd->val_len - 1] == '\t'))
            hd->val_len--;
        if (memchr(h->arena + hd->val_off, '\r', hd->val_len) ||
            memchr(h->arena + hd->val_off, '\n', hd->val_len) ||
            memchr(h->arena + hd->val_off, '\0', hd->val_len))
            return VX_ERR_PROTO;
    }
    if (ulen == 0)
        return VX_ERR_PROTO;

    if ((v = vx_http_header(h, "Proxy-Authorization", &vlen)) != NULL) {
        q->has_proxy_auth = 1;
        q->proxy_auth_ok = vx_http_parse_basic(v, vlen, q->username, q->password) == 0;
    }

    if (q->method == HTTP_CONNECT) {
        q->kind = VX_HTTP_CONNECT;
        return parse_authority(h, url, ulen, 0);
    }
    if (url[0] == '/') {
        size_t plen = ulen;
        const char *qm = memchr(url, '?', ulen);
        if (qm)
            plen = (size_t)(qm - url);
        h->target_off = 0;
        h->target_len = (uint16_t)ulen;
        q->kind = VX_HTTP_LOCAL;
        if (plen == 10 && memcmp(url, "/proxy.pac", 10) == 0 &&
            (q->method == HTTP_GET || q->method == HTTP_HEAD))
            q->kind = VX_HTTP_PAC;
        return 0;
    }
    if (ulen >= 7 && strncasecmp(url, "http://", 7) == 0) {
        const char *auth = url + 7, *end = url + ulen, *p = auth;
        while (p < end && *p != '/' && *p != '?' && *p != '#')
            p++;
        if (memchr(auth, '@', (size_t)(p - auth)))
            return VX_ERR_BADADDR; /* userinfo has no place in a proxy request */
        rc = parse_authority(h, auth, (size_t)(p - auth), 80);
        if (rc < 0)
            return rc;
        h->authority_off = (uint16_t)(auth - h->arena);
        h->authority_len = (uint16_t)(p - auth);
        h->target_off = (uint16_t)(p - h->arena);
        const char *hash = memchr(p, '#', (size_t)(end - p));
        h->target_len = (uint16_t)((hash ? hash : end) - p);
        q->kind = VX_HTTP_FORWARD;
        return 0;
    }
    return VX_ERR_INVAL; /* https://, ftp://, "*", garbage */
}

int vx_http_feed(struct vx_http *h, const char *buf, size_t len, size_t *consumed)
{
    size_t room, n;
    llhttp_errno_t e;
    int rc;

    *consumed = 0;
    if (h->state == ST_DONE)
        return VX_ERR_INVAL;
    if (h->state == ST_FAILED)
        return h->err;
    if (len == 0)
        return VX_HTTP_MORE;
    room = VX_HTTP_HEAD_MAX - h->fed;
    n = len < room ? len : room;
    e = llhttp_execute(&h->parser, buf, n);
    if (e == HPE_OK) {
        h->fed += n;
        *consumed = n;
        if (h->fed >= VX_HTTP_HEAD_MAX)
            return fail(h, VX_ERR_TOOBIG);
        return VX_HTTP_MORE;
    }
    const char *pos = llhttp_get_error_pos(&h->parser);
    size_t used = pos && pos >= buf && pos <= buf + n ? (size_t)(pos - buf) : n;
    *consumed = used;
    h->fed += used;
    if (e != HPE_PAUSED) {
        if (h->err)
            return fail(h, h->err);
        log_debug(LD_FRONT, "HTTP parse error: %s", llhttp_get_error_reason(&h->parser));
        return fail(h, VX_ERR_PROTO);
    }
    rc = finish(h);
    if (rc < 0)
        return fail(h, rc);
    h->state = ST_DONE;
    return VX_HTTP_REQUEST;
}

const struct vx_http_req *vx_http_request(const struct vx_http *h)
{
    return h->state == ST_DONE ? &h->req : NULL;
}

const char *vx_http_target(const struct vx_http *h, size_t *len)
{
    if (h->state != ST_DONE || h->req.kind == VX_HTTP_CONNECT)
        return NULL;
    *len = h->target_len;
    return h->arena + h->target_off;
}

int vx_http_fail_status(const struct vx_http *h)
{
    return h->status ? h->status : 400;
}

/* ---- output ---- */
struct out {
    char *p;
    size_t cap, len;
    int over;
};

static void out_add(struct out *o, const char *s, size_t n)
{
    if (o->over || n > o->cap - o->len) {
        o->over = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_str(struct out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void out_fmt(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->over = 1;
        return;
    }
    out_add(o, tmp, (size_t)n);
}

static int out_done(struct out *o)
{
    return o->over ? VX_ERR_TOOBIG : (int)o->len;
}

/* Hop-by-hop fields never forwarded. */
static const char *const hop_by_hop[] = {
        "Connection",         "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
        "Proxy-Authenticate", "TE",         "Trailer",          "Host",
};

int vx_http_rewrite_head(const struct vx_http *h, char *out, size_t cap)
{
    struct out o = {out, cap, 0, 0};
    const char *conn;
    size_t conn_len = 0;
    int upgrade;

    if (h->state != ST_DONE || h->req.kind != VX_HTTP_FORWARD)
        return VX_ERR_INVAL;
    conn = vx_http_header(h, "Connection", &conn_len);
    upgrade = conn && list_has(conn, conn_len, "upgrade", 7) &&
              vx_http_header(h, "Upgrade", &(size_t){0});

    out_str(&o, llhttp_method_name((llhttp_method_t)h->req.method));
    out_str(&o, " ");
    if (h->target_len == 0 || h->arena[h->target_off] != '/')
        out_str(&o, "/");
    out_add(&o, h->arena + h->target_off, h->target_len);
    out_fmt(&o, " HTTP/1.%d\r\nHost: ", h->req.http_minor ? 1 : 0);
    out_add(&o, h->arena + h->authority_off, h->authority_len);
    out_str(&o, "\r\n");
    for (unsigned i = 0; i < h->nhdr; i++) {
        const struct vx_http_hdr *hd = &h->hdr[i];
        int skip = 0;
        for (size_t k = 0; k < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]) && !skip; k++)
            skip = hdr_is(h, hd, hop_by_hop[k]);
        /* fields named in Connection are hop-by-hop too (RFC 9110 7.6.1) */
        if (!skip && conn && list_has(conn, conn_len, h->arena + hd->name_off, hd->name_len))
            skip = !(upgrade && hdr_is(h, hd, "Upgrade"));
        if (skip)
            continue;
        out_add(&o, h->arena + hd->name_off, hd->name_len);
        out_str(&o, ": ");
        out_add(&o, h->arena + hd->val_off, hd->val_len);
        out_str(&o, "\r\n");
    }
    out_str(&o, upgrade ? "Connection: upgrade\r\n\r\n" : "Connection: close\r\n\r\n");
    return out_done(&o);
}

static int cred_equal(const char *want, const char *got)
{
    size_t wl = strlen(want), gl = strlen(got);
    unsigned diff = (unsigned)(wl ^ gl);
    for (size_t i = 0; i < gl; i++)
        diff |= (unsigned)(uint8_t)got[i] ^ (unsigned)(uint8_t)(i < wl ? want[i] : 0);
    return diff == 0;
}

int vx_http_check_auth(const struct vx_http *h, const char *user, const char *pass)
{
    if (!user)
        return 0;
    if (h->state != ST_DONE || !h->req.proxy_auth_ok)
        return VX_ERR_AUTH;
    if (!(cred_equal(user, h->req.username) & cred_equal(pass ? pass : "", h->req.password)))
        return VX_ERR_AUTH;
    return 0;
}

int vx_http_connect_ok(char *out, size_t cap)
{
    struct out o = {out, cap, 0, 0};
    out_str(&o, "HTTP/1.1 200 Connection established\r\n\r\n");
    return out_done(&o);
}

int vx_http_response_head(int status, const char *content_type, size_t body_len, char *out,
                          size_t cap)
{
    struct out o = {out, cap, 0, 0};
    out_fmt(&o, "HTTP/1.1 %d %s\r\n", status, vx_http_reason_phrase(status));
    if (status == 407)
        out_str(&o, "Proxy-Authenticate: Basic realm=\"vx6\"\r\n");
    out_fmt(&o, "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            content_type, body_len);
    return out_done(&o);
}

int vx_http_error_response(int status, const char *line, char *out, size_t cap)
{
    size_t llen = strnlen(line, 400);
    int n;

    /* one line: stop at a CR or LF so a host name cannot inject fields */
    for (size_t i = 0; i < llen; i++)
        if (line[i] == '\r' || line[i] == '\n')
            llen = i;
    n = vx_http_response_head(status, "text/plain; charset=utf-8", llen + 1, out, cap);
    if (n < 0)
        return n;
    struct out o = {out, cap, (size_t)n, 0};
    out_add(&o, line, llen);
    out_str(&o, "\n");
    return out_done(&o);
}

int vx_http_error_for(int err, const char *host, char *out, size_t cap)
{
    char line[400];
    vx_front_err_line(err, host, line, sizeof(line));
    return vx_http_error_response(vx_front_http_status(err), line, out, cap);
}

int vx_http_fail_response(const struct vx_http *h, char *out, size_t cap)
{
    int status = vx_http_fail_status(h);
    const char *line = "vx6: malformed proxy request";
    if (status == 431)
        line = "vx6: request head too large";
    else if (h->err == VX_ERR_BADADDR)
        line = "vx6: malformed target host:port";
    else if (h->err == VX_ERR_INVAL)
        line = "vx6: only CONNECT and http:// requests are proxied";
    return vx_http_error_response(status, line, out, cap);
}
