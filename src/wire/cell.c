/* cell.c — relay circuit cells (see cell.h). */
#include "wire/cell.h"

#include <netinet/in.h>
#include <string.h>

#include "lib/err.h"
#include "wire/cursor.h"

const uint16_t VX_CELL_BUCKETS[VX_CELL_NBUCKETS] = {512, 2048, 8192, VX_CELL_PAYLOAD_MAX};

int vx_cell_decode(const uint8_t *in, size_t n, struct vx_cell *c, size_t *used)
{
    if (n < VX_CELL_HDR_LEN)
        return VX_ERR_TRUNC;
    uint8_t cmd = in[0];
    size_t len = (size_t)in[1] << 8 | in[2];
    if (cmd < VX_CELL_CREATE || cmd > VX_CELL_DESTROY || len > VX_CELL_BODY_MAX)
        return VX_ERR_PROTO;
    if (n < VX_CELL_HDR_LEN + len)
        return VX_ERR_TRUNC;
    c->cmd = cmd;
    c->len = (uint16_t)len;
    c->body = in + VX_CELL_HDR_LEN;
    *used = VX_CELL_HDR_LEN + len;
    return 0;
}

int vx_cell_hdr_encode(uint8_t out[VX_CELL_HDR_LEN], uint8_t cmd, size_t len)
{
    if (len > VX_CELL_BODY_MAX)
        return VX_ERR_TOOBIG;
    out[0] = cmd;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    return 0;
}

int vx_cell_create_encode(const struct vx_cell_create *c, uint8_t out[VX_CELL_CREATE_LEN])
{
    out[0] = c->version;
    out[1] = c->aead;
    memcpy(out + 2, c->x, VX_CELL_KEY_LEN);
    return 0;
}

int vx_cell_create_decode(const uint8_t *in, size_t n, struct vx_cell_create *c)
{
    if (n != VX_CELL_CREATE_LEN)
        return VX_ERR_PROTO;
    c->version = in[0];
    c->aead = in[1];
    memcpy(c->x, in + 2, VX_CELL_KEY_LEN);
    if (c->version != VX_CELL_VERSION)
        return VX_ERR_VERSION;
    return 0;
}

int vx_cell_created_encode(const struct vx_cell_created *c, uint8_t out[VX_CELL_CREATED_LEN])
{
    memcpy(out, c->y, VX_CELL_KEY_LEN);
    memcpy(out + VX_CELL_KEY_LEN, c->auth, VX_CELL_AUTH_LEN);
    return 0;
}

int vx_cell_created_decode(const uint8_t *in, size_t n, struct vx_cell_created *c)
{
    if (n != VX_CELL_CREATED_LEN)
        return VX_ERR_PROTO;
    memcpy(c->y, in, VX_CELL_KEY_LEN);
    memcpy(c->auth, in + VX_CELL_KEY_LEN, VX_CELL_AUTH_LEN);
    return 0;
}

size_t vx_cell_bucket_for(size_t datalen)
{
    for (int i = 0; i < VX_CELL_NBUCKETS; i++)
        if (VX_CELL_PAYLOAD_HDR + datalen <= VX_CELL_BUCKETS[i])
            return VX_CELL_BUCKETS[i];
    return 0;
}

int vx_relay_payload_encode(uint8_t rcmd, const uint8_t *data, size_t len, uint8_t *out, size_t cap,
                            size_t *outlen)
{
    size_t b = vx_cell_bucket_for(len);
    if (b == 0 || cap < b)
        return VX_ERR_TOOBIG;
    out[0] = rcmd;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    if (len && data != out + VX_CELL_PAYLOAD_HDR) /* callers often build it in place */
        memmove(out + VX_CELL_PAYLOAD_HDR, data, len);
    memset(out + VX_CELL_PAYLOAD_HDR + len, 0, b - VX_CELL_PAYLOAD_HDR - len);
    *outlen = b;
    return 0;
}

int vx_relay_payload_decode(const uint8_t *in, size_t n, uint8_t *rcmd, const uint8_t **data,
                            size_t *len)
{
    int bucket = 0;
    for (int i = 0; i < VX_CELL_NBUCKETS; i++)
        bucket |= n == VX_CELL_BUCKETS[i];
    if (!bucket)
        return VX_ERR_PROTO;
    size_t l = (size_t)in[1] << 8 | in[2];
    if (in[0] < VX_RC_EXTEND || in[0] > VX_RC_MAX || l > n - VX_CELL_PAYLOAD_HDR)
        return VX_ERR_PROTO;
    /* the smallest bucket that fits must have been used, padding is zero */
    if (vx_cell_bucket_for(l) != n)
        return VX_ERR_PROTO;
    uint8_t acc = 0;
    for (size_t i = VX_CELL_PAYLOAD_HDR + l; i < n; i++)
        acc |= in[i];
    if (acc)
        return VX_ERR_PROTO;
    *rcmd = in[0];
    *data = in + VX_CELL_PAYLOAD_HDR;
    *len = l;
    return 0;
}

int vx_cell_extend_encode(const struct vx_cell_extend *e, uint8_t *out, size_t cap, size_t *outlen)
{
    struct vx_wcur w;
    uint8_t cr[VX_CELL_CREATE_LEN];
    vx_wcur_init(&w, out, cap);
    vx_wcur_bytes(&w, e->node_id, VX_CELL_ID_LEN);
    if (e->addr.ss_family == AF_INET && e->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&e->addr;
        vx_wcur_u8(&w, 4);
        vx_wcur_bytes(&w, &s4->sin_addr, 4);
        vx_wcur_u16(&w, ntohs(s4->sin_port));
    } else if (e->addr.ss_family == AF_INET6 && e->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&e->addr;
        vx_wcur_u8(&w, 6);
        vx_wcur_bytes(&w, &s6->sin6_addr, 16);
        vx_wcur_u16(&w, ntohs(s6->sin6_port));
    } else {
        return VX_ERR_INVAL;
    }
    vx_cell_create_encode(&e->create, cr);
    int r = vx_wcur_bytes(&w, cr, sizeof(cr));
    if (r < 0)
        return r;
    *outlen = w.off;
    return 0;
}

int vx_cell_extend_decode(const uint8_t *in, size_t n, struct vx_cell_extend *e)
{
    struct vx_rcur c;
    uint8_t fam = 0;
    uint16_t port = 0;
    const uint8_t *cr = NULL;
    memset(e, 0, sizeof(*e));
    vx_rcur_init(&c, in, n);
    vx_rcur_bytes(&c, e->node_id, VX_CELL_ID_LEN);
    if (vx_rcur_u8(&c, &fam) < 0)
        return VX_ERR_PROTO;
    if (fam == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&e->addr;
        s4->sin_family = AF_INET;
        vx_rcur_bytes(&c, &s4->sin_addr, 4);
        vx_rcur_u16(&c, &port);
        s4->sin_port = htons(port);
        e->addrlen = sizeof(*s4);
    } else if (fam == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&e->addr;
        s6->sin6_family = AF_INET6;
        vx_rcur_bytes(&c, &s6->sin6_addr, 16);
        vx_rcur_u16(&c, &port);
        s6->sin6_port = htons(port);
        e->addrlen = sizeof(*s6);
    } else {
        return VX_ERR_PROTO;
    }
    if (vx_rcur_ptr(&c, &cr, VX_CELL_CREATE_LEN) < 0 || vx_rcur_left(&c) != 0 || port == 0)
        return VX_ERR_PROTO;
    return vx_cell_create_decode(cr, VX_CELL_CREATE_LEN, &e->create);
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > VX_CELL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

int vx_cell_begin_encode(const struct vx_cell_begin *b, uint8_t *out, size_t cap, size_t *outlen)
{
    struct vx_wcur w;
    size_t nl = strnlen(b->name, sizeof(b->name));
    if (!name_ok(b->name, nl) || (b->flags & ~VX_CELL_BEGIN_AUTH))
        return VX_ERR_INVAL;
    vx_wcur_init(&w, out, cap);
    vx_wcur_u16(&w, b->port);
    vx_wcur_u8(&w, (uint8_t)nl);
    vx_wcur_bytes(&w, b->name, nl);
    vx_wcur_u8(&w, b->flags);
    if (b->flags & VX_CELL_BEGIN_AUTH) {
        vx_wcur_bytes(&w, b->pk, sizeof(b->pk));
        vx_wcur_bytes(&w, b->sig, sizeof(b->sig));
    }
    if (w.err)
        return w.err;
    *outlen = w.off;
    return 0;
}

int vx_cell_begin_decode(const uint8_t *in, size_t n, struct vx_cell_begin *b)
{
    struct vx_rcur c;
    uint8_t nl = 0;
    memset(b, 0, sizeof(*b));
    vx_rcur_init(&c, in, n);
    vx_rcur_u16(&c, &b->port);
    vx_rcur_u8(&c, &nl);
    if (c.err || nl > VX_CELL_NAME_MAX)
        return VX_ERR_PROTO;
    vx_rcur_bytes(&c, b->name, nl);
    vx_rcur_u8(&c, &b->flags);
    if (c.err || !name_ok(b->name, nl) || (b->flags & ~VX_CELL_BEGIN_AUTH))
        return VX_ERR_PROTO;
    if (b->flags & VX_CELL_BEGIN_AUTH) {
        vx_rcur_bytes(&c, b->pk, sizeof(b->pk));
        vx_rcur_bytes(&c, b->sig, sizeof(b->sig));
    }
    if (c.err || vx_rcur_left(&c) != 0)
        return VX_ERR_PROTO;
    return 0;
}

void vx_cell_estintro_msg(const uint8_t binding[32], const uint8_t auth_key[32],
                          uint8_t out[VX_CELL_ESTINTRO_MSG])
{
    size_t o = sizeof(VX_CELL_ESTINTRO_CTX) - 1;
    memcpy(out, VX_CELL_ESTINTRO_CTX, o);
    memcpy(out + o, binding, 32);
    memcpy(out + o + 32, auth_key, 32);
}

int vx_cell_estintro_encode(const struct vx_cell_estintro *e, uint8_t out[VX_CELL_ESTINTRO_LEN])
{
    memcpy(out, e->auth_key, 32);
    memcpy(out + 32, e->sig, 64);
    return 0;
}

int vx_cell_estintro_decode(const uint8_t *in, size_t n, struct vx_cell_estintro *e)
{
    if (n != VX_CELL_ESTINTRO_LEN)
        return VX_ERR_PROTO;
    memcpy(e->auth_key, in, 32);
    memcpy(e->sig, in + 32, 64);
    return 0;
}

int vx_cell_ack_decode(const uint8_t *in, size_t n, uint8_t *status)
{
    if (n != 1 || in[0] > VX_CELL_ACK_INVALID)
        return VX_ERR_PROTO;
    *status = in[0];
    return 0;
}

const char *vx_cell_reason_str(uint8_t r)
{
    static const char *const names[] = {
            [VX_CR_NONE] = "no reason",
            [VX_CR_PROTOCOL] = "protocol violation",
            [VX_CR_INTERNAL] = "internal error",
            [VX_CR_REQUESTED] = "closed by the client",
            [VX_CR_RESOURCE] = "relay is full",
            [VX_CR_CONNECT] = "next hop unreachable",
            [VX_CR_DISABLED] = "relaying disabled",
            [VX_CR_TIMEOUT] = "timed out",
            [VX_CR_HOP_GONE] = "a hop went away",
            [VX_CR_CRYPTO] = "layer authentication failed",
            [VX_CR_NOTFOUND] = "no such service",
            [VX_CR_DENIED] = "denied by the service",
            [VX_CR_REFUSED] = "connection refused",
            [VX_CR_LOOP] = "circuit loops",
            [VX_CR_ROUTE] = "the service takes direct connections only",
    };
    if (r < sizeof(names) / sizeof(names[0]) && names[r])
        return names[r];
    return "unknown reason";
}

int vx_cell_reason_to_err(uint8_t r)
{
    switch (r) {
    case VX_CR_RESOURCE:
        return VX_ERR_LIMIT;
    case VX_CR_CONNECT:
    case VX_CR_HOP_GONE:
        return VX_ERR_UNREACH;
    case VX_CR_DISABLED:
    case VX_CR_DENIED:
        return VX_ERR_DENIED;
    case VX_CR_TIMEOUT:
        return VX_ERR_TIMEOUT;
    case VX_CR_CRYPTO:
        return VX_ERR_CRYPTO;
    case VX_CR_NOTFOUND:
        return VX_ERR_NOTFOUND;
    case VX_CR_REFUSED:
        return VX_ERR_REFUSED;
    case VX_CR_REQUESTED:
        return VX_ERR_CLOSED;
    case VX_CR_ROUTE:
        return VX_ERR_ROUTE;
    case VX_CR_INTERNAL:
        return VX_ERR_INTERNAL;
    default:
        return VX_ERR_PROTO;
    }
}

uint8_t vx_cell_reason_from_err(int err)
{
    switch (err) {
    case VX_ERR_LIMIT:
        return VX_CR_RESOURCE;
    case VX_ERR_UNREACH:
    case VX_ERR_PEER_ID:
        return VX_CR_CONNECT;
    case VX_ERR_DENIED:
        return VX_CR_DENIED;
    case VX_ERR_TIMEOUT:
        return VX_CR_TIMEOUT;
    case VX_ERR_CRYPTO:
        return VX_CR_CRYPTO;
    case VX_ERR_NOTFOUND:
        return VX_CR_NOTFOUND;
    case VX_ERR_REFUSED:
        return VX_CR_REFUSED;
    case VX_ERR_CLOSED:
    case VX_ERR_RESET:
        return VX_CR_HOP_GONE;
    case VX_ERR_PROTO:
        return VX_CR_PROTOCOL;
    case VX_ERR_ROUTE:
        return VX_CR_ROUTE;
    case 0:
        return VX_CR_NONE;
    default:
        return VX_CR_INTERNAL;
    }
}
