/* dhtmsg.c — DHT datagram encoding.  Pure: no I/O. */
#include "dht/dhtmsg.h"

#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "wire/cursor.h"

const char *vx_dhtmsg_type_name(int type)
{
    static const char *const names[] = {"?",          "PING",  "PONG",  "FIND_NODE", "NODES",
                                        "FIND_VALUE", "VALUE", "STORE", "STORED"};
    return type >= 1 && type <= VX_DHT_STORED ? names[type] : "?";
}

int vx_dhtmsg_is_response(int type)
{
    return type == VX_DHT_PONG || type == VX_DHT_NODES || type == VX_DHT_VALUE ||
           type == VX_DHT_STORED;
}

int vx_dhtmsg_is_dht(const uint8_t *data, size_t len)
{
    return len >= VX_DHTMSG_HDR_LEN && data[0] == VX_DHTMSG_VERSION;
}

static int addr_check(const struct vx_dhtaddr *a)
{
    if (a->family != 4 && a->family != 6)
        return VX_ERR_INVAL;
    return a->port ? 0 : VX_ERR_INVAL;
}

static void put_record(struct vx_wcur *w, const struct vx_dhtmsg *m, int required)
{
    if ((required && m->rec_len == 0) || m->rec_len > VX_RECORD_MAX) {
        vx_wcur_fail(w, m->rec_len ? VX_ERR_TOOBIG : VX_ERR_INVAL);
        return;
    }
    vx_wcur_u16(w, m->rec_len);
    vx_wcur_bytes(w, m->rec, m->rec_len);
}

int vx_dhtmsg_encode(const struct vx_dhtmsg *m, uint8_t *out, size_t cap)
{
    struct vx_wcur w;
    vx_wcur_init(&w, out, cap < VX_DHTMSG_MAX ? cap : VX_DHTMSG_MAX);
    vx_wcur_u8(&w, VX_DHTMSG_VERSION);
    vx_wcur_u8(&w, m->type);
    vx_wcur_bytes(&w, m->txid, VX_DHT_TXID_LEN);
    vx_wcur_bytes(&w, m->sender, VX_NODE_ID_LEN);
    switch (m->type) {
    case VX_DHT_PING:
    case VX_DHT_PONG:
        put_record(&w, m, 0);
        break;
    case VX_DHT_FIND_NODE:
    case VX_DHT_FIND_VALUE:
        vx_wcur_bytes(&w, m->target, VX_NODE_ID_LEN);
        break;
    case VX_DHT_NODES:
        if (m->n_contacts > VX_DHT_MAX_CONTACTS)
            return VX_ERR_TOOBIG;
        vx_wcur_bytes(&w, m->token, VX_DHT_TOKEN_LEN);
        vx_wcur_u8(&w, m->n_contacts);
        for (unsigned i = 0; i < m->n_contacts; i++) {
            const struct vx_dht_contact *c = &m->contacts[i];
            if (addr_check(&c->addr) < 0)
                return VX_ERR_INVAL;
            vx_wcur_bytes(&w, c->id, VX_NODE_ID_LEN);
            vx_wcur_u8(&w, c->addr.family);
            vx_wcur_bytes(&w, c->addr.ip, c->addr.family == 4 ? 4 : 16);
            vx_wcur_u16(&w, c->addr.port);
        }
        break;
    case VX_DHT_VALUE:
    case VX_DHT_STORE:
        vx_wcur_bytes(&w, m->token, VX_DHT_TOKEN_LEN);
        put_record(&w, m, 1);
        break;
    case VX_DHT_STORED:
        vx_wcur_u8(&w, m->status);
        break;
    default:
        return VX_ERR_INVAL;
    }
    return w.err ? w.err : (int)w.off;
}

static int get_record(struct vx_rcur *c, struct vx_dhtmsg *m, int required)
{
    uint16_t n;
    if (vx_rcur_u16(c, &n) < 0)
        return c->err;
    if (n > VX_RECORD_MAX)
        return VX_ERR_TOOBIG;
    if (required && n == 0)
        return VX_ERR_INVAL;
    vx_rcur_ptr(c, &m->rec, n);
    m->rec_len = n;
    return c->err;
}

int vx_dhtmsg_decode(struct vx_dhtmsg *m, const uint8_t *data, size_t len)
{
    struct vx_rcur c;
    uint8_t ver = 0;
    int rc = 0;

    memset(m, 0, sizeof(*m));
    if (len > VX_DHTMSG_MAX)
        return VX_ERR_TOOBIG;
    vx_rcur_init(&c, data, len);
    vx_rcur_u8(&c, &ver);
    vx_rcur_u8(&c, &m->type);
    vx_rcur_bytes(&c, m->txid, VX_DHT_TXID_LEN);
    vx_rcur_bytes(&c, m->sender, VX_NODE_ID_LEN);
    if (c.err)
        return c.err;
    if (ver != VX_DHTMSG_VERSION)
        return VX_ERR_VERSION;
    switch (m->type) {
    case VX_DHT_PING:
    case VX_DHT_PONG:
        rc = get_record(&c, m, 0);
        break;
    case VX_DHT_FIND_NODE:
    case VX_DHT_FIND_VALUE:
        vx_rcur_bytes(&c, m->target, VX_NODE_ID_LEN);
        break;
    case VX_DHT_NODES: {
        uint8_t n = 0;
        vx_rcur_bytes(&c, m->token, VX_DHT_TOKEN_LEN);
        if (vx_rcur_u8(&c, &n) < 0)
            return c.err;
        if (n > VX_DHT_MAX_CONTACTS)
            return VX_ERR_TOOBIG;
        for (unsigned i = 0; i < n; i++) {
            struct vx_dht_contact *ct = &m->contacts[i];
            vx_rcur_bytes(&c, ct->id, VX_NODE_ID_LEN);
            if (vx_rcur_u8(&c, &ct->addr.family) < 0)
                return c.err;
            if (ct->addr.family != 4 && ct->addr.family != 6)
                return VX_ERR_INVAL;
            vx_rcur_bytes(&c, ct->addr.ip, ct->addr.family == 4 ? 4 : 16);
            if (vx_rcur_u16(&c, &ct->addr.port) < 0)
                return c.err;
            if (ct->addr.port == 0)
                return VX_ERR_INVAL;
        }
        m->n_contacts = n;
        break;
    }
    case VX_DHT_VALUE:
    case VX_DHT_STORE:
        vx_rcur_bytes(&c, m->token, VX_DHT_TOKEN_LEN);
        rc = get_record(&c, m, 1);
        break;
    case VX_DHT_STORED:
        vx_rcur_u8(&c, &m->status);
        break;
    default:
        return VX_ERR_INVAL;
    }
    if (rc < 0)
        return rc;
    if (c.err)
        return c.err;
    return vx_rcur_left(&c) ? VX_ERR_INVAL : 0;
}

int vx_dhtaddr_equal(const struct vx_dhtaddr *a, const struct vx_dhtaddr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

int vx_dhtaddr_same_prefix(const struct vx_dhtaddr *a, const struct vx_dhtaddr *b)
{
    if (a->family != b->family)
        return 0;
    return memcmp(a->ip, b->ip, a->family == 4 ? 3 : 6) == 0;
}

int vx_dhtaddr_is_loopback(const struct vx_dhtaddr *a)
{
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->family == 4)
        return a->ip[0] == 127;
    return memcmp(a->ip, lo6, 16) == 0;
}

int vx_dhtaddr_from_sockaddr(struct vx_dhtaddr *a, const struct sockaddr *sa, socklen_t len)
{
    int v;
    memset(a, 0, sizeof(*a));
    if ((v = vx_addr_to_ip(sa, len, a->ip, &a->port)) < 0)
        return v;
    a->family = (uint8_t)v;
    return 0;
}

void vx_dhtaddr_to_sockaddr(const struct vx_dhtaddr *a, int v6_socket, struct sockaddr_storage *ss,
                            socklen_t *len)
{
    vx_addr_from_ip(ss, len, a->family == 4 ? 4 : 6, a->ip, a->port);
    if (v6_socket)
        vx_addr_map(ss, len);
}

void vx_dhtaddr_format(const struct vx_dhtaddr *a, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    vx_dhtaddr_to_sockaddr(a, 0, &ss, &len);
    vx_addr_format((const struct sockaddr *)&ss, len, out, cap);
}
