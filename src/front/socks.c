/* socks.c — incremental SOCKS4/4a/5 server-side parser. */
#include "front/socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "front/errors.h"
#include "lib/err.h"
#include "lib/log.h"

enum {
    S_VER = 0,
    S5_NMETHODS,
    S5_METHODS,
    S5_AUTH_VER,
    S5_AUTH_ULEN,
    S5_AUTH_UNAME,
    S5_AUTH_PLEN,
    S5_AUTH_PASSWD,
    S5_REQ_VER,
    S5_REQ_CMD,
    S5_REQ_RSV,
    S5_REQ_ATYP,
    S5_REQ_IP,
    S5_REQ_DLEN,
    S5_REQ_DOMAIN,
    S5_REQ_PORT,
    S4_CMD,
    S4_PORT,
    S4_IP,
    S4_USERID,
    S4_HOST,
    S_DONE,
    S_FAILED,
};

#define METHOD_NOAUTH   0x00
#define METHOD_USERPASS 0x02
#define METHOD_NONE     0xFF
#define CMD_CONNECT     0x01

void vx_socks_init(struct vx_socks *s, const struct vx_socks_opts *opts)
{
    memset(s, 0, sizeof(*s));
    s->opts = opts;
    s->state = S_VER;
    s->method = METHOD_NONE;
    s->req.addr.ss_family = AF_UNSPEC;
}

void vx_socks_reset(struct vx_socks *s)
{
    vx_socks_init(s, s->opts);
}

const uint8_t *vx_socks_output(const struct vx_socks *s, size_t *len)
{
    *len = s->outlen;
    return s->out;
}

void vx_socks_output_clear(struct vx_socks *s)
{
    s->outlen = 0;
}

const struct vx_socks_request *vx_socks_request(const struct vx_socks *s)
{
    return s->state == S_DONE ? &s->req : NULL;
}

static int out_put(struct vx_socks *s, const uint8_t *p, size_t n)
{
    if (n > sizeof(s->out) - s->outlen)
        return VX_ERR_INTERNAL; /* cannot happen: the sequence of replies is bounded */
    memcpy(s->out + s->outlen, p, n);
    s->outlen += n;
    return 0;
}

/* Queue an error reply in the client's version and enter the failed state. */
static int fail(struct vx_socks *s, int err, int socks5_rep)
{
    uint8_t r[VX_SOCKS_REPLY_MAX];
    int n = 0;

    if (socks5_rep >= 0) {
        if (s->req.version == 4)
            n = vx_socks4_encode_reply((uint8_t)socks5_rep, NULL, r, sizeof(r));
        else
            n = vx_socks5_encode_reply((uint8_t)socks5_rep, NULL, r, sizeof(r));
        if (n > 0 && out_put(s, r, (size_t)n) < 0)
            err = VX_ERR_INTERNAL;
    }
    s->state = S_FAILED;
    s->err = err;
    log_debug(LD_FRONT, "socks%d: rejecting request: %s", s->req.version ? s->req.version : 5,
              vx_strerror(err));
    return err;
}

/* Constant-time comparison of a received credential with the configured one. */
static int cred_equal(const char *want, const char *got)
{
    size_t wl = strlen(want), gl = strlen(got);
    unsigned diff = (unsigned)(wl ^ gl);
    for (size_t i = 0; i < gl; i++)
        diff |= (unsigned)(uint8_t)got[i] ^ (unsigned)(uint8_t)(i < wl ? want[i] : 0);
    return diff == 0;
}

/* s->got holds bit 0 when 0x00 was offered, bit 1 when 0x02 was. */
static int choose_method(const struct vx_socks *s)
{
    int have_noauth = s->got & 1, have_userpass = s->got & 2;

    if (s->opts && s->opts->username)
        return have_userpass ? METHOD_USERPASS : METHOD_NONE;
    /* Without socks_auth any username is accepted: a client that offers
     * one (curl --proxy-user 'route=relay;hops=3:x') carries per-request
     * options in it (vx_path_opts_parse), so prefer it, as Tor does for
     * stream isolation. */
    if (have_userpass)
        return METHOD_USERPASS;
    return have_noauth ? METHOD_NOAUTH : METHOD_NONE;
}

static int finish_auth(struct vx_socks *s)
{
    const struct vx_socks_opts *o = s->opts;
    int ok = 1;
    uint8_t r[2] = {0x01, 0x00};

    if (o && o->username)
        ok = cred_equal(o->username, s->req.username) &
             cred_equal(o->password ? o->password : "", s->req.password);
    if (memchr(s->req.username, 0, s->tmp[0]) || memchr(s->req.password, 0, s->tmp[1]))
        ok = 0; /* a NUL inside a credential */
    s->req.has_auth = 1;
    if (!ok) {
        r[1] = 0x01;
        out_put(s, r, 2);
        log_info(LD_FRONT, "SOCKS5 client sent wrong username/password");
        return fail(s, VX_ERR_AUTH, -1);
    }
    out_put(s, r, 2);
    s->state = S5_REQ_VER;
    return 0;
}

static int finish_ip(struct vx_socks *s, int family)
{
    struct vx_socks_request *q = &s->req;
    memset(&q->addr, 0, sizeof(q->addr));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&q->addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(q->port);
        memcpy(&sin->sin_addr, s->tmp, 4);
        if (!inet_ntop(AF_INET, &sin->sin_addr, q->host, sizeof(q->host)))
            return VX_ERR_INTERNAL;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&q->addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(q->port);
        memcpy(&sin6->sin6_addr, s->tmp, 16);
        if (!inet_ntop(AF_INET6, &sin6->sin6_addr, q->host, sizeof(q->host)))
            return VX_ERR_INTERNAL;
    }
    return 0;
}

static int step(struct vx_socks *s, uint8_t c)
{
    struct vx_socks_request *q = &s->req;

    switch (s->state) {
    case S_VER:
        if (c == 5) {
            q->version = 5;
            s->state = S5_NMETHODS;
        } else if (c == 4) {
            q->version = 4;
            if (s->opts && s->opts->no_socks4)
                return fail(s, VX_ERR_DENIED, VX_SOCKS5_NOT_ALLOWED);
            if (s->opts && s->opts->username)
                return fail(s, VX_ERR_AUTH, VX_SOCKS5_NOT_ALLOWED);
            s->state = S4_CMD;
        } else {
            return fail(s, VX_ERR_PROTO, -1);
        }
        return 0;

    /* ---- SOCKS5 method selection ---- */
    case S5_NMETHODS:
        if (c == 0) {
            uint8_t r[2] = {0x05, METHOD_NONE};
            out_put(s, r, 2);
            return fail(s, VX_ERR_PROTO, -1);
        }
        s->need = c;
        s->got = 0;
        s->state = S5_METHODS;
        return 0;
    case S5_METHODS:
        if (c == METHOD_NOAUTH)
            s->got |= 1;
        else if (c == METHOD_USERPASS)
            s->got |= 2;
        if (--s->need == 0) {
            uint8_t r[2] = {0x05, 0};
            s->method = (uint8_t)choose_method(s);
            r[1] = s->method;
            out_put(s, r, 2);
            s->got = 0;
            if (s->method == METHOD_NONE)
                return fail(s, VX_ERR_AUTH, -1);
            s->state = s->method == METHOD_USERPASS ? S5_AUTH_VER : S5_REQ_VER;
        }
        return 0;

    /* ---- RFC 1929 ---- */
    case S5_AUTH_VER:
        if (c != 0x01) {
            uint8_t r[2] = {0x01, 0x01};
            out_put(s, r, 2);
            return fail(s, VX_ERR_PROTO, -1);
        }
        s->state = S5_AUTH_ULEN;
        return 0;
    case S5_AUTH_ULEN:
        s->tmp[0] = c;
        s->need = c;
        s->got = 0;
        s->state = c ? S5_AUTH_UNAME : S5_AUTH_PLEN;
        return 0;
    case S5_AUTH_UNAME:
        q->username[s->got++] = (char)c;
        if (--s->need == 0)
            s->state = S5_AUTH_PLEN;
        return 0;
    case S5_AUTH_PLEN:
        s->tmp[1] = c;
        s->need = c;
        s->got = 0;
        if (c == 0)
            return finish_auth(s);
        s->state = S5_AUTH_PASSWD;
        return 0;
    case S5_AUTH_PASSWD:
        q->password[s->got++] = (char)c;
        if (--s->need == 0)
            return finish_auth(s);
        return 0;

    /* ---- SOCKS5 request ---- */
    case S5_REQ_VER:
        if (c != 5)
            return fail(s, VX_ERR_PROTO, -1);
        s->state = S5_REQ_CMD;
        return 0;
    case S5_REQ_CMD:
        if (c != CMD_CONNECT) {
            log_info(LD_FRONT, "SOCKS5 command 0x%02x is not supported (only CONNECT)", c);
            return fail(s, VX_ERR_PROTO, VX_SOCKS5_CMD_NOT_SUPPORTED);
        }
        s->state = S5_REQ_RSV;
        return 0;
    case S5_REQ_RSV:
        if (c != 0)
            return fail(s, VX_ERR_PROTO, VX_SOCKS5_GENERAL_FAILURE);
        s->state = S5_REQ_ATYP;
        return 0;
    case S5_REQ_ATYP:
        s->got = 0;
        if (c == VX_SOCKS_ATYP_IPV4 || c == VX_SOCKS_ATYP_IPV6) {
            q->atyp = c;
            s->need = c == VX_SOCKS_ATYP_IPV4 ? 4 : 16;
            s->state = S5_REQ_IP;
        } else if (c == VX_SOCKS_ATYP_DOMAIN) {
            q->atyp = c;
            s->state = S5_REQ_DLEN;
        } else {
            return fail(s, VX_ERR_BADADDR, VX_SOCKS5_ATYP_NOT_SUPPORTED);
        }
        return 0;
    case S5_REQ_IP:
        s->tmp[s->got++] = c;
        if (--s->need == 0) {
            s->need = 2;
            s->state = S5_REQ_PORT;
        }
        return 0;
    case S5_REQ_DLEN:
        if (c == 0)
            return fail(s, VX_ERR_BADADDR, vx_front_socks5_code(VX_ERR_BADADDR));
        s->need = c;
        s->got = 0;
        s->state = S5_REQ_DOMAIN;
        return 0;
    case S5_REQ_DOMAIN:
        if (c == 0)
            return fail(s, VX_ERR_BADADDR, vx_front_socks5_code(VX_ERR_BADADDR));
        q->host[s->got++] = (char)c;
        if (--s->need == 0) {
            q->host[s->got] = '\0';
            s->need = 2;
            s->state = S5_REQ_PORT;
        }
        return 0;
    case S5_REQ_PORT:
        q->port = (uint16_t)(q->port << 8 | c);
        if (--s->need == 0) {
            if (q->atyp != VX_SOCKS_ATYP_DOMAIN) {
                int r = finish_ip(s, q->atyp == VX_SOCKS_ATYP_IPV4 ? AF_INET : AF_INET6);
                if (r < 0)
                    return fail(s, r, VX_SOCKS5_GENERAL_FAILURE);
            }
            s->state = S_DONE;
            return VX_SOCKS_REQUEST;
        }
        return 0;

    /* ---- SOCKS4 / 4a ---- */
    case S4_CMD:
        if (c != CMD_CONNECT) {
            log_info(LD_FRONT, "SOCKS4 command 0x%02x is not supported (only CONNECT)", c);
            return fail(s, VX_ERR_PROTO, VX_SOCKS5_CMD_NOT_SUPPORTED);
        }
        s->need = 2;
        s->state = S4_PORT;
        return 0;
    case S4_PORT:
        q->port = (uint16_t)(q->port << 8 | c);
        if (--s->need == 0) {
            s->need = 4;
            s->got = 0;
            s->state = S4_IP;
        }
        return 0;
    case S4_IP:
        s->tmp[s->got++] = c;
        if (--s->need == 0) {
            s->got = 0;
            s->state = S4_USERID;
        }
        return 0;
    case S4_USERID:
        if (c == 0) {
            q->username[s->got] = '\0';
            q->has_auth = s->got > 0;
            s->got = 0;
            /* 0.0.0.x with x != 0 means SOCKS4a: a host name follows. */
            if (s->tmp[0] == 0 && s->tmp[1] == 0 && s->tmp[2] == 0 && s->tmp[3] != 0) {
                q->atyp = VX_SOCKS_ATYP_DOMAIN;
                s->state = S4_HOST;
                return 0;
            }
            q->atyp = VX_SOCKS_ATYP_IPV4;
            int r = finish_ip(s, AF_INET);
            if (r < 0)
                return fail(s, r, VX_SOCKS5_GENERAL_FAILURE);
            s->state = S_DONE;
            return VX_SOCKS_REQUEST;
        }
        if (s->got >= VX_SOCKS_MAX_USER)
            return fail(s, VX_ERR_TOOBIG, VX_SOCKS5_GENERAL_FAILURE);
        q->username[s->got++] = (char)c;
        return 0;
    case S4_HOST:
        if (c == 0) {
            if (s->got == 0)
                return fail(s, VX_ERR_BADADDR, VX_SOCKS5_GENERAL_FAILURE);
            q->host[s->got] = '\0';
            s->state = S_DONE;
            return VX_SOCKS_REQUEST;
        }
        if (s->got >= VX_SOCKS_MAX_HOST)
            return fail(s, VX_ERR_TOOBIG, VX_SOCKS5_GENERAL_FAILURE);
        q->host[s->got++] = (char)c;
        return 0;

    case S_DONE:
        return VX_ERR_INVAL;
    default:
        return s->err ? s->err : VX_ERR_INTERNAL;
    }
}

int vx_socks_feed(struct vx_socks *s, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t i = 0;
    int r = VX_SOCKS_MORE;

    if (s->state == S_DONE || s->state == S_FAILED) {
        *consumed = 0;
        return s->state == S_DONE ? VX_ERR_INVAL : s->err;
    }
    while (i < len) {
        r = step(s, buf[i++]);
        if (r != 0)
            break;
    }
    *consumed = i;
    return r;
}

static int put_bound(const struct sockaddr *bound, uint8_t *atyp, uint8_t *addr, size_t *alen,
                     uint8_t port[2])
{
    uint16_t p = 0;
    *atyp = VX_SOCKS_ATYP_IPV4;
    *alen = 4;
    memset(addr, 0, 16);
    if (bound && bound->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)bound;
        memcpy(addr, &sin->sin_addr, 4);
        p = ntohs(sin->sin_port);
    } else if (bound && bound->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)bound;
        *atyp = VX_SOCKS_ATYP_IPV6;
        *alen = 16;
        memcpy(addr, &sin6->sin6_addr, 16);
        p = ntohs(sin6->sin6_port);
    }
    port[0] = (uint8_t)(p >> 8);
    port[1] = (uint8_t)p;
    return 0;
}

int vx_socks5_encode_reply(uint8_t rep, const struct sockaddr *bound, uint8_t *out, size_t cap)
{
    uint8_t atyp, addr[16], port[2];
    size_t alen;

    put_bound(bound, &atyp, addr, &alen, port);
    if (cap < 4 + alen + 2)
        return VX_ERR_TOOBIG;
    out[0] = 0x05;
    out[1] = rep;
    out[2] = 0x00;
    out[3] = atyp;
    memcpy(out + 4, addr, alen);
    memcpy(out + 4 + alen, port, 2);
    return (int)(4 + alen + 2);
}

int vx_socks4_encode_reply(uint8_t rep, const struct sockaddr *bound, uint8_t *out, size_t cap)
{
    uint8_t atyp, addr[16], port[2];
    size_t alen;

    if (cap < 8)
        return VX_ERR_TOOBIG;
    put_bound(bound, &atyp, addr, &alen, port);
    out[0] = 0x00;
    out[1] = vx_socks4_code(rep);
    memcpy(out + 2, port, 2);
    if (atyp == VX_SOCKS_ATYP_IPV4)
        memcpy(out + 4, addr, 4);
    else
        memset(out + 4, 0, 4);
    return 8;
}

int vx_socks_reply(const struct vx_socks *s, uint8_t rep, const struct sockaddr *bound,
                   uint8_t *out, size_t cap)
{
    if (s->state != S_DONE)
        return VX_ERR_INVAL;
    if (s->req.version == 4)
        return vx_socks4_encode_reply(rep, bound, out, cap);
    return vx_socks5_encode_reply(rep, bound, out, cap);
}
