/* record.c — signed discovery records: canonical encoding, signing,
 * verification, DHT keys and the replacement rule.  Pure: no I/O. */
#include "wire/record.h"
#include "crypto/blind.h"

#include <sodium.h>
#include <string.h>

#include "lib/err.h"
#include "wire/cursor.h"

static const char SIG_DOMAIN[] = "vx6 record v1";
static const char SERVICE_DOMAIN[] = "vx6 service";
static const char USER_DOMAIN[] = "vx6 user";
static const char HSDIR_DOMAIN[] = "vx6 hsdir";

/* The part of a descriptor's outer header an HSDESC record depends on
 * (hidden/descriptor.h): u8 version, [32] blinded key, u64 period,
 * u64 revision, u64 expires, ..., [64] signature. */
#define HSD_VERSION     1
#define HSD_OFF_PK      1
#define HSD_OFF_PERIOD  33
#define HSD_OFF_REV     41
#define HSD_OFF_EXPIRES 49
#define HSD_MIN_LEN     (57 + 2 + VX_SIG_LEN)

int vx_label_check(const char *s)
{
    size_t n = strnlen(s, VX_LABEL_MAX + 1);
    if (n == 0)
        return VX_ERR_BADADDR;
    if (n > VX_LABEL_MAX)
        return VX_ERR_TOOBIG;
    if (s[0] == '-' || s[n - 1] == '-')
        return VX_ERR_BADADDR;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return VX_ERR_BADADDR;
    }
    return 0;
}

const char *vx_record_type_name(int type)
{
    switch (type) {
    case VX_REC_NODE:
        return "node";
    case VX_REC_SERVICE:
        return "service";
    case VX_REC_USERNAME:
        return "username";
    case VX_REC_HSDESC:
        return "hsdesc";
    default:
        return "unknown";
    }
}

static void init_common(struct vx_record *r, int type, uint64_t seq, uint64_t issued,
                        uint64_t expires)
{
    memset(r, 0, sizeof(*r));
    r->type = (uint8_t)type;
    r->seq = seq;
    r->issued = issued;
    r->expires = expires;
}

void vx_record_init_node(struct vx_record *r, uint64_t seq, uint64_t issued, uint64_t expires)
{
    init_common(r, VX_REC_NODE, seq, issued, expires);
}

int vx_record_init_service(struct vx_record *r, const char *user, const char *service, uint64_t seq,
                           uint64_t issued, uint64_t expires)
{
    int rc;
    init_common(r, VX_REC_SERVICE, seq, issued, expires);
    if ((rc = vx_label_check(user)) < 0 || (rc = vx_label_check(service)) < 0)
        return rc;
    strcpy(r->u.service.user, user);
    strcpy(r->u.service.service, service);
    return 0;
}

int vx_record_init_username(struct vx_record *r, const char *user, uint64_t seq, uint64_t issued,
                            uint64_t expires)
{
    int rc;
    init_common(r, VX_REC_USERNAME, seq, issued, expires);
    if ((rc = vx_label_check(user)) < 0)
        return rc;
    strcpy(r->u.username.user, user);
    return 0;
}

static int endpoint_check(const struct vx_endpoint *ep)
{
    if (ep->family != 4 && ep->family != 6)
        return VX_ERR_INVAL;
    if (ep->port == 0)
        return VX_ERR_INVAL;
    if (ep->transports == 0 || (ep->transports & ~(VX_REC_TRANSPORT_TCP | VX_REC_TRANSPORT_QUIC)))
        return VX_ERR_INVAL;
    if (ep->family == 4) {
        static const uint8_t zero[12];
        if (memcmp(ep->addr + 4, zero, sizeof(zero)) != 0)
            return VX_ERR_INVAL;
    }
    return 0;
}

int vx_record_add_endpoint(struct vx_record *r, const struct vx_endpoint *ep)
{
    int rc;
    if (r->type != VX_REC_NODE)
        return VX_ERR_INVAL;
    if (r->u.node.n_endpoints >= VX_RECORD_MAX_ENDPOINTS)
        return VX_ERR_TOOBIG;
    if ((rc = endpoint_check(ep)) < 0)
        return rc;
    r->u.node.endpoints[r->u.node.n_endpoints++] = *ep;
    return 0;
}

static void put_label(struct vx_wcur *w, const char *s)
{
    size_t n = strlen(s);
    vx_wcur_u8(w, (uint8_t)n);
    vx_wcur_bytes(w, s, n);
}

/* Field-level validity shared by encode and decode. */
static int fields_check(const struct vx_record *r)
{
    int rc;
    switch (r->type) {
    case VX_REC_NODE:
        if (r->u.node.n_endpoints > VX_RECORD_MAX_ENDPOINTS)
            return VX_ERR_TOOBIG;
        for (unsigned i = 0; i < r->u.node.n_endpoints; i++)
            if ((rc = endpoint_check(&r->u.node.endpoints[i])) < 0)
                return rc;
        return 0;
    case VX_REC_SERVICE:
        if ((rc = vx_label_check(r->u.service.user)) < 0 ||
            (rc = vx_label_check(r->u.service.service)) < 0)
            return rc;
        if (r->u.service.n_ports > VX_RECORD_MAX_PORTS)
            return VX_ERR_TOOBIG;
        for (unsigned i = 0; i < r->u.service.n_ports; i++)
            if (r->u.service.ports[i] == 0)
                return VX_ERR_INVAL;
        /* relay-only and direct-only at once: no path would do */
        if ((r->u.service.flags & VX_SERVICE_F_ROUTE_MASK) == VX_SERVICE_F_ROUTE_MASK)
            return VX_ERR_INVAL;
        return 0;
    case VX_REC_USERNAME:
        return vx_label_check(r->u.username.user);
    case VX_REC_HSDESC: {
        const uint8_t *d = r->u.hsdesc.desc;
        if (r->u.hsdesc.len > VX_RECORD_MAX_HSDESC)
            return VX_ERR_TOOBIG;
        if (r->u.hsdesc.replica >= VX_HSDESC_REPLICAS || r->u.hsdesc.len < HSD_MIN_LEN ||
            d[0] != HSD_VERSION || memcmp(d + HSD_OFF_PK, r->signer, VX_PK_LEN) != 0 ||
            vx_be64_get(d + HSD_OFF_REV) != r->seq ||
            vx_be64_get(d + HSD_OFF_EXPIRES) != r->expires)
            return VX_ERR_INVAL;
        return 0;
    }
    default:
        return VX_ERR_INVAL;
    }
}

/* The signed part (everything but the signature).  Returns length or error. */
static int encode_body(const struct vx_record *r, uint8_t *out, size_t cap)
{
    struct vx_wcur w;
    int rc;

    if ((rc = fields_check(r)) < 0)
        return rc;
    vx_wcur_init(&w, out, cap);
    vx_wcur_u8(&w, VX_RECORD_VERSION);
    vx_wcur_u8(&w, r->type);
    vx_wcur_u64(&w, r->seq);
    vx_wcur_u64(&w, r->issued);
    vx_wcur_u64(&w, r->expires);
    vx_wcur_bytes(&w, r->signer, VX_PK_LEN);
    switch (r->type) {
    case VX_REC_NODE:
        vx_wcur_bytes(&w, r->u.node.node_id, VX_NODE_ID_LEN);
        vx_wcur_u8(&w, r->u.node.n_endpoints);
        for (unsigned i = 0; i < r->u.node.n_endpoints; i++) {
            const struct vx_endpoint *ep = &r->u.node.endpoints[i];
            vx_wcur_u8(&w, ep->family);
            vx_wcur_bytes(&w, ep->addr, ep->family == 4 ? 4 : 16);
            vx_wcur_u16(&w, ep->port);
            vx_wcur_u8(&w, ep->transports);
        }
        break;
    case VX_REC_SERVICE:
        put_label(&w, r->u.service.user);
        put_label(&w, r->u.service.service);
        vx_wcur_bytes(&w, r->u.service.node_id, VX_NODE_ID_LEN);
        vx_wcur_u32(&w, r->u.service.flags);
        vx_wcur_u8(&w, r->u.service.n_ports);
        for (unsigned i = 0; i < r->u.service.n_ports; i++)
            vx_wcur_u16(&w, r->u.service.ports[i]);
        break;
    case VX_REC_USERNAME:
        put_label(&w, r->u.username.user);
        break;
    case VX_REC_HSDESC:
        vx_wcur_u8(&w, r->u.hsdesc.replica);
        vx_wcur_u16(&w, r->u.hsdesc.len);
        vx_wcur_bytes(&w, r->u.hsdesc.desc, r->u.hsdesc.len);
        break;
    }
    if (w.err)
        return w.err;
    return (int)w.off;
}

/* "vx6 record v1" || body, into out (cap >= VX_RECORD_MAX + domain). */
static int signed_message(const struct vx_record *r, uint8_t *out, size_t cap)
{
    size_t dl = sizeof(SIG_DOMAIN) - 1;
    int n;
    memcpy(out, SIG_DOMAIN, dl);
    n = encode_body(r, out + dl, cap - dl);
    return n < 0 ? n : (int)(dl + (size_t)n);
}

int vx_record_encode(const struct vx_record *r, uint8_t *out, size_t cap)
{
    int n = encode_body(r, out, cap);
    if (n < 0)
        return n;
    if ((size_t)n + VX_SIG_LEN > cap)
        return VX_ERR_TOOBIG;
    memcpy(out + n, r->sig, VX_SIG_LEN);
    n += VX_SIG_LEN;
    return n > VX_RECORD_MAX ? VX_ERR_TOOBIG : n;
}

int vx_record_init_hsdesc(struct vx_record *r, unsigned replica, const uint8_t *desc, size_t len,
                          uint64_t issued)
{
    memset(r, 0, sizeof(*r));
    if (len > VX_RECORD_MAX_HSDESC)
        return VX_ERR_TOOBIG;
    if (len < HSD_MIN_LEN || desc[0] != HSD_VERSION || replica >= VX_HSDESC_REPLICAS)
        return VX_ERR_INVAL;
    r->type = VX_REC_HSDESC;
    r->seq = vx_be64_get(desc + HSD_OFF_REV);
    r->issued = issued;
    r->expires = vx_be64_get(desc + HSD_OFF_EXPIRES);
    memcpy(r->signer, desc + HSD_OFF_PK, VX_PK_LEN);
    r->u.hsdesc.replica = (uint8_t)replica;
    r->u.hsdesc.len = (uint16_t)len;
    memcpy(r->u.hsdesc.desc, desc, len);
    return 0;
}

void vx_hsdesc_key(const uint8_t blinded_pk[VX_PK_LEN], uint64_t period, unsigned replica,
                   uint8_t key[VX_DHT_KEY_LEN])
{
    crypto_generichash_state st;
    uint8_t num[9];

    vx_be64_put(num, period);
    num[8] = (uint8_t)replica;
    crypto_generichash_init(&st, NULL, 0, VX_DHT_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)HSDIR_DOMAIN, sizeof(HSDIR_DOMAIN) - 1);
    crypto_generichash_update(&st, blinded_pk, VX_PK_LEN);
    crypto_generichash_update(&st, num, sizeof(num));
    crypto_generichash_final(&st, key, VX_DHT_KEY_LEN);
}

int vx_record_sign_blinded(struct vx_record *r, const struct vx_blind_key *k)
{
    uint8_t msg[VX_RECORD_MAX + 32];
    int n;

    if (r->type != VX_REC_HSDESC)
        return VX_ERR_INVAL;
    memcpy(r->signer, k->pk, VX_PK_LEN);
    n = signed_message(r, msg, sizeof(msg));
    if (n < 0)
        return n;
    if ((size_t)n - (sizeof(SIG_DOMAIN) - 1) + VX_SIG_LEN > VX_RECORD_MAX)
        return VX_ERR_TOOBIG;
    return vx_blind_sign(k, msg, (size_t)n, r->sig);
}

int vx_record_sign(struct vx_record *r, const struct vx_identity *id)
{
    uint8_t msg[VX_RECORD_MAX + 32];
    int n;

    memcpy(r->signer, id->pk, VX_PK_LEN);
    if (r->type == VX_REC_NODE)
        memcpy(r->u.node.node_id, id->node_id, VX_NODE_ID_LEN);
    else if (r->type == VX_REC_SERVICE)
        memcpy(r->u.service.node_id, id->node_id, VX_NODE_ID_LEN);
    n = signed_message(r, msg, sizeof(msg));
    if (n < 0)
        return n;
    if ((size_t)n - (sizeof(SIG_DOMAIN) - 1) + VX_SIG_LEN > VX_RECORD_MAX)
        return VX_ERR_TOOBIG;
    return vx_sign(id, msg, (size_t)n, r->sig);
}

static int get_label(struct vx_rcur *c, char *out)
{
    uint8_t n;
    const uint8_t *p;
    if (vx_rcur_u8(c, &n) < 0)
        return c->err;
    if (n > VX_LABEL_MAX)
        return VX_ERR_TOOBIG;
    if (vx_rcur_ptr(c, &p, n) < 0)
        return c->err;
    /* An embedded NUL would make the C string differ from the bytes. */
    if (memchr(p, 0, n))
        return VX_ERR_INVAL;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

int vx_record_decode(struct vx_record *r, const uint8_t *in, size_t len)
{
    struct vx_rcur c;
    int rc;
    uint8_t ver;

    memset(r, 0, sizeof(*r));
    if (len > VX_RECORD_MAX)
        return VX_ERR_TOOBIG;
    if (len < VX_SIG_LEN)
        return VX_ERR_TRUNC;
    vx_rcur_init(&c, in, len - VX_SIG_LEN);
    if (vx_rcur_u8(&c, &ver) < 0)
        return c.err;
    if (ver != VX_RECORD_VERSION)
        return VX_ERR_VERSION;
    vx_rcur_u8(&c, &r->type);
    vx_rcur_u64(&c, &r->seq);
    vx_rcur_u64(&c, &r->issued);
    vx_rcur_u64(&c, &r->expires);
    vx_rcur_bytes(&c, r->signer, VX_PK_LEN);
    if (c.err)
        return c.err;
    switch (r->type) {
    case VX_REC_NODE: {
        uint8_t n = 0;
        vx_rcur_bytes(&c, r->u.node.node_id, VX_NODE_ID_LEN);
        if (vx_rcur_u8(&c, &n) < 0)
            return c.err;
        if (n > VX_RECORD_MAX_ENDPOINTS)
            return VX_ERR_TOOBIG;
        for (unsigned i = 0; i < n; i++) {
            struct vx_endpoint *ep = &r->u.node.endpoints[i];
            if (vx_rcur_u8(&c, &ep->family) < 0)
                return c.err;
            if (ep->family != 4 && ep->family != 6)
                return VX_ERR_INVAL;
            vx_rcur_bytes(&c, ep->addr, ep->family == 4 ? 4 : 16);
            vx_rcur_u16(&c, &ep->port);
            if (vx_rcur_u8(&c, &ep->transports) < 0)
                return c.err;
        }
        r->u.node.n_endpoints = n;
        break;
    }
    case VX_REC_SERVICE: {
        if ((rc = get_label(&c, r->u.service.user)) < 0 ||
            (rc = get_label(&c, r->u.service.service)) < 0)
            return rc;
        uint8_t n = 0;
        vx_rcur_bytes(&c, r->u.service.node_id, VX_NODE_ID_LEN);
        vx_rcur_u32(&c, &r->u.service.flags);
        if (vx_rcur_u8(&c, &n) < 0)
            return c.err;
        if (n > VX_RECORD_MAX_PORTS)
            return VX_ERR_TOOBIG;
        for (unsigned i = 0; i < n; i++)
            vx_rcur_u16(&c, &r->u.service.ports[i]);
        if (c.err)
            return c.err;
        r->u.service.n_ports = n;
        break;
    }
    case VX_REC_USERNAME:
        if ((rc = get_label(&c, r->u.username.user)) < 0)
            return rc;
        break;
    case VX_REC_HSDESC: {
        uint16_t n = 0;
        vx_rcur_u8(&c, &r->u.hsdesc.replica);
        if (vx_rcur_u16(&c, &n) < 0)
            return c.err;
        if (n > VX_RECORD_MAX_HSDESC)
            return VX_ERR_TOOBIG;
        if (vx_rcur_bytes(&c, r->u.hsdesc.desc, n) < 0)
            return c.err;
        r->u.hsdesc.len = n;
        break;
    }
    default:
        return VX_ERR_INVAL;
    }
    if (vx_rcur_left(&c) != 0)
        return VX_ERR_INVAL;
    if ((rc = fields_check(r)) < 0)
        return rc;
    memcpy(r->sig, in + len - VX_SIG_LEN, VX_SIG_LEN);
    return 0;
}

int vx_record_verify(const struct vx_record *r, uint64_t now)
{
    uint8_t msg[VX_RECORD_MAX + 32];
    uint8_t id[VX_NODE_ID_LEN];
    int n, rc;

    if ((rc = fields_check(r)) < 0)
        return rc;
    if (r->type == VX_REC_NODE || r->type == VX_REC_SERVICE) {
        const uint8_t *claimed = r->type == VX_REC_NODE ? r->u.node.node_id : r->u.service.node_id;
        vx_node_id_from_pk(r->signer, id);
        if (sodium_memcmp(id, claimed, VX_NODE_ID_LEN) != 0)
            return VX_ERR_PEER_ID;
    }
    n = signed_message(r, msg, sizeof(msg));
    if (n < 0)
        return n;
    if ((rc = vx_verify(r->signer, msg, (size_t)n, r->sig)) < 0)
        return rc;
    if (r->expires < r->issued || r->expires - r->issued > VX_RECORD_MAX_LIFETIME)
        return VX_ERR_INVAL;
    if (r->expires <= now)
        return VX_ERR_EXPIRED;
    if (r->issued > now + VX_RECORD_MAX_SKEW)
        return VX_ERR_INVAL;
    return 0;
}

int vx_record_parse(struct vx_record *r, const uint8_t *in, size_t len, uint64_t now)
{
    int rc = vx_record_decode(r, in, len);
    return rc < 0 ? rc : vx_record_verify(r, now);
}

static void hash2(const char *dom, const char *a, const char *sep, const char *b,
                  uint8_t key[VX_DHT_KEY_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, VX_DHT_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)dom, strlen(dom));
    crypto_generichash_update(&st, (const uint8_t *)a, strlen(a));
    if (sep) {
        crypto_generichash_update(&st, (const uint8_t *)sep, strlen(sep));
        crypto_generichash_update(&st, (const uint8_t *)b, strlen(b));
    }
    crypto_generichash_final(&st, key, VX_DHT_KEY_LEN);
}

int vx_service_key(const char *user, const char *service, uint8_t key[VX_DHT_KEY_LEN])
{
    int rc;
    if ((rc = vx_label_check(user)) < 0 || (rc = vx_label_check(service)) < 0)
        return rc;
    hash2(SERVICE_DOMAIN, user, ".", service, key);
    return 0;
}

int vx_username_key(const char *user, uint8_t key[VX_DHT_KEY_LEN])
{
    int rc;
    if ((rc = vx_label_check(user)) < 0)
        return rc;
    hash2(USER_DOMAIN, user, NULL, NULL, key);
    return 0;
}

void vx_record_key(const struct vx_record *r, uint8_t key[VX_DHT_KEY_LEN])
{
    switch (r->type) {
    case VX_REC_NODE:
        memcpy(key, r->u.node.node_id, VX_DHT_KEY_LEN);
        break;
    case VX_REC_SERVICE:
        hash2(SERVICE_DOMAIN, r->u.service.user, ".", r->u.service.service, key);
        break;
    case VX_REC_USERNAME:
        hash2(USER_DOMAIN, r->u.username.user, NULL, NULL, key);
        break;
    case VX_REC_HSDESC:
        if (r->u.hsdesc.len < HSD_MIN_LEN) {
            memset(key, 0, VX_DHT_KEY_LEN);
            break;
        }
        vx_hsdesc_key(r->u.hsdesc.desc + HSD_OFF_PK, vx_be64_get(r->u.hsdesc.desc + HSD_OFF_PERIOD),
                      r->u.hsdesc.replica, key);
        break;
    default:
        memset(key, 0, VX_DHT_KEY_LEN);
        break;
    }
}

int vx_record_replaces(const struct vx_record *rec, const struct vx_record *old, uint64_t now)
{
    uint8_t k1[VX_DHT_KEY_LEN], k2[VX_DHT_KEY_LEN];

    if (rec->type != old->type)
        return VX_ERR_INVAL;
    vx_record_key(rec, k1);
    vx_record_key(old, k2);
    if (memcmp(k1, k2, sizeof(k1)) != 0)
        return VX_ERR_INVAL;
    if (memcmp(rec->signer, old->signer, VX_PK_LEN) != 0)
        return old->expires <= now ? 0 : VX_ERR_KEYCHANGED;
    return rec->seq > old->seq ? 0 : VX_ERR_STALE;
}
