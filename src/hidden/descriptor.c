/* descriptor.c — hidden-service descriptors: encode, sign, verify, decrypt. */
#include "hidden/descriptor.h"
#include "crypto/blind.h"
#include "lib/err.h"
#include "hidden/descriptor_private.h"
#include "wire/cursor.h"

#include <sodium.h>
#include <string.h>

#define SIG_CTX      "vx6 hsdesc v1"
#define SIG_CTX_LEN  (sizeof(SIG_CTX) - 1)
#define HDR_LEN      (1 + VX_PK_LEN + 8 + 8 + 8) /* the AD of both layers */
#define SALT_LEN     16
#define TAG_LEN      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CLIENT_ID    8
#define CLIENT_ENTRY (CLIENT_ID + VX_HS_COOKIE_KEY_LEN)
#define PAD_MIN      640 /* layer 1 padded to this: 5 intros with one endpoint */
#define PAD_TO       128 /* and beyond it to a multiple of this */
#define LAYER_MAX    VX_HSDESC_MAX

static void put64(uint8_t p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int vx_hs_subcredential(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t out[32])
{
    static const char c1[] = "vx6 hs credential", c2[] = "vx6 hs subcredential";
    crypto_generichash_state st;
    uint8_t cred[32], blinded[32], num[8];
    int rc;

    if ((rc = vx_blind_public(pk, period, blinded)) < 0)
        return rc;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)c1, sizeof(c1) - 1);
    crypto_generichash_update(&st, pk, VX_PK_LEN);
    crypto_generichash_final(&st, cred, 32);
    put64(num, period);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)c2, sizeof(c2) - 1);
    crypto_generichash_update(&st, cred, 32);
    crypto_generichash_update(&st, blinded, 32);
    crypto_generichash_update(&st, num, 8);
    crypto_generichash_final(&st, out, 32);
    return 0;
}

void vx_hsdesc_positions(const uint8_t blinded_pk[VX_PK_LEN], uint64_t period,
                         uint8_t keys[VX_HSDESC_REPLICAS][32])
{
    for (unsigned i = 0; i < VX_HSDESC_REPLICAS; i++)
        vx_hsdesc_key(blinded_pk, period, i, keys[i]);
}

/* key(32) || nonce(24) for one layer. */
static void layer_keys(const char *label, const uint8_t subcred[32],
                       const struct vx_hsdesc_outer *o, const uint8_t salt[SALT_LEN],
                       const uint8_t *cookie, uint8_t key[32], uint8_t nonce[24])
{
    crypto_generichash_state st;
    uint8_t out[64], num[16];

    put64(num, o->period);
    put64(num + 8, o->revision);
    crypto_generichash_init(&st, NULL, 0, sizeof(out));
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_update(&st, subcred, 32);
    crypto_generichash_update(&st, o->blinded_pk, VX_PK_LEN);
    crypto_generichash_update(&st, num, sizeof(num));
    crypto_generichash_update(&st, salt, SALT_LEN);
    if (cookie)
        crypto_generichash_update(&st, cookie, VX_HS_COOKIE_KEY_LEN);
    crypto_generichash_final(&st, out, sizeof(out));
    memcpy(key, out, 32);
    memcpy(nonce, out + 32, 24);
    sodium_memzero(out, sizeof(out));
}

/* Client entry id and cookie key from the X25519 shared secret. */
static void client_keys(const uint8_t subcred[32], const uint8_t secret[32],
                        const uint8_t eph_pk[32], uint8_t id[CLIENT_ID],
                        uint8_t key[VX_HS_COOKIE_KEY_LEN])
{
    static const char c[] = "vx6 hsdesc client";
    crypto_generichash_state st;
    uint8_t out[64];

    crypto_generichash_init(&st, NULL, 0, sizeof(out));
    crypto_generichash_update(&st, (const uint8_t *)c, sizeof(c) - 1);
    crypto_generichash_update(&st, subcred, 32);
    crypto_generichash_update(&st, secret, 32);
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_final(&st, out, sizeof(out));
    memcpy(id, out, CLIENT_ID);
    memcpy(key, out + 32, VX_HS_COOKIE_KEY_LEN);
    sodium_memzero(out, sizeof(out));
}

static void header_ad(const struct vx_hsdesc_outer *o, uint8_t ad[HDR_LEN])
{
    ad[0] = o->version;
    memcpy(ad + 1, o->blinded_pk, VX_PK_LEN);
    put64(ad + 33, o->period);
    put64(ad + 41, o->revision);
    put64(ad + 49, o->expires);
}

int vx_hs_endpoint_put(struct vx_wcur *w, const struct vx_hs_endpoint *ep)
{
    if ((ep->family != 4 && ep->family != 6) || ep->port == 0 || ep->transports == 0 ||
        (ep->transports & ~3u))
        return VX_ERR_INVAL;
    vx_wcur_u8(w, ep->family);
    vx_wcur_bytes(w, ep->addr, ep->family == 4 ? 4 : 16);
    vx_wcur_u16(w, ep->port);
    return vx_wcur_u8(w, ep->transports);
}

int vx_hs_endpoint_get(struct vx_rcur *r, struct vx_hs_endpoint *ep)
{
    int rc;

    memset(ep, 0, sizeof(*ep));
    if ((rc = vx_rcur_u8(r, &ep->family)) < 0)
        return rc;
    if (ep->family != 4 && ep->family != 6)
        return VX_ERR_INVAL;
    vx_rcur_bytes(r, ep->addr, ep->family == 4 ? 4 : 16);
    vx_rcur_u16(r, &ep->port);
    if ((rc = vx_rcur_u8(r, &ep->transports)) < 0)
        return rc;
    if (ep->port == 0 || ep->transports == 0 || (ep->transports & ~3u))
        return VX_ERR_INVAL;
    return 0;
}

static int intros_put(struct vx_wcur *w, const struct vx_hsdesc *d)
{
    int rc;

    if (d->n_intros < 1 || d->n_intros > VX_HSDESC_MAX_INTROS)
        return VX_ERR_INVAL;
    vx_wcur_u8(w, d->n_intros);
    for (size_t i = 0; i < d->n_intros; i++) {
        const struct vx_hs_intro *in = &d->intros[i];
        if ((in->flags & ~VX_HS_INTRO_STANDBY) || in->n_endpoints < 1 ||
            in->n_endpoints > VX_HSDESC_MAX_EP)
            return VX_ERR_INVAL;
        vx_wcur_u8(w, in->flags);
        vx_wcur_bytes(w, in->node_pk, VX_PK_LEN);
        vx_wcur_u8(w, in->n_endpoints);
        for (size_t j = 0; j < in->n_endpoints; j++)
            if ((rc = vx_hs_endpoint_put(w, &in->ep[j])) < 0)
                return rc;
        vx_wcur_bytes(w, in->auth_key, VX_PK_LEN);
        if ((rc = vx_wcur_bytes(w, in->enc_key, VX_X25519_LEN)) < 0)
            return rc;
    }
    return w->err;
}

static int intros_get(struct vx_rcur *r, struct vx_hsdesc *d)
{
    int rc;

    if ((rc = vx_rcur_u8(r, &d->n_intros)) < 0)
        return rc;
    if (d->n_intros < 1 || d->n_intros > VX_HSDESC_MAX_INTROS)
        return VX_ERR_INVAL;
    for (size_t i = 0; i < d->n_intros; i++) {
        struct vx_hs_intro *in = &d->intros[i];
        vx_rcur_u8(r, &in->flags);
        vx_rcur_bytes(r, in->node_pk, VX_PK_LEN);
        if ((rc = vx_rcur_u8(r, &in->n_endpoints)) < 0)
            return rc;
        if ((in->flags & ~VX_HS_INTRO_STANDBY) || in->n_endpoints < 1 ||
            in->n_endpoints > VX_HSDESC_MAX_EP)
            return VX_ERR_INVAL;
        for (size_t j = 0; j < in->n_endpoints; j++)
            if ((rc = vx_hs_endpoint_get(r, &in->ep[j])) < 0)
                return rc;
        vx_rcur_bytes(r, in->auth_key, VX_PK_LEN);
        if ((rc = vx_rcur_bytes(r, in->enc_key, VX_X25519_LEN)) < 0)
            return rc;
        vx_node_id_from_pk(in->node_pk, in->node_id);
    }
    return vx_rcur_left(r) == 0 ? 0 : VX_ERR_INVAL;
}

static void derive(const uint8_t rnd[32], const char *label, uint8_t *out, size_t n)
{
    crypto_generichash(out, n, (const uint8_t *)label, strlen(label), rnd, 32);
}

/* out = salt || AEAD(pt); returns the length. */
static size_t seal_layer(const char *label, const uint8_t subcred[32],
                         const struct vx_hsdesc_outer *o, const uint8_t salt[SALT_LEN],
                         const uint8_t *cookie, const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t key[32], nonce[24], ad[HDR_LEN];
    unsigned long long clen;

    layer_keys(label, subcred, o, salt, cookie, key, nonce);
    header_ad(o, ad);
    memcpy(out, salt, SALT_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SALT_LEN, &clen, pt, len, ad, sizeof(ad), NULL,
                                               nonce, key);
    sodium_memzero(key, sizeof(key));
    return SALT_LEN + (size_t)clen;
}

static int open_layer(const char *label, const uint8_t subcred[32], const struct vx_hsdesc_outer *o,
                      const uint8_t *cookie, const uint8_t *in, size_t len, uint8_t *out,
                      size_t *outlen)
{
    uint8_t key[32], nonce[24], ad[HDR_LEN];
    unsigned long long mlen;
    int rc;

    if (len < SALT_LEN + TAG_LEN)
        return VX_ERR_CRYPTO;
    layer_keys(label, subcred, o, in, cookie, key, nonce);
    header_ad(o, ad);
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in + SALT_LEN, len - SALT_LEN,
                                                    ad, sizeof(ad), nonce, key);
    sodium_memzero(key, sizeof(key));
    if (rc != 0)
        return VX_ERR_CRYPTO;
    *outlen = (size_t)mlen;
    return 0;
}

/* Outer layer around layer 1 ciphertext, signed with the blinded key. */
static int finish_outer(const struct vx_blind_key *bk, const struct vx_hsdesc_outer *o,
                        const uint8_t *ct1, size_t n1, uint8_t *out, size_t cap)
{
    uint8_t msg[SIG_CTX_LEN + VX_HSDESC_MAX];
    struct vx_wcur w;
    size_t len;
    int rc;

    vx_wcur_init(&w, msg + SIG_CTX_LEN, VX_HSDESC_MAX - VX_SIG_LEN);
    memcpy(msg, SIG_CTX, SIG_CTX_LEN);
    vx_wcur_u8(&w, o->version);
    vx_wcur_bytes(&w, o->blinded_pk, VX_PK_LEN);
    vx_wcur_u64(&w, o->period);
    vx_wcur_u64(&w, o->revision);
    vx_wcur_u64(&w, o->expires);
    vx_wcur_u16(&w, (uint16_t)n1);
    if (vx_wcur_bytes(&w, ct1, n1) < 0)
        return VX_ERR_TOOBIG;
    len = w.off + VX_SIG_LEN;
    if (len > cap)
        return VX_ERR_TOOBIG;
    memcpy(out, msg + SIG_CTX_LEN, w.off);
    if ((rc = vx_blind_sign(bk, msg, SIG_CTX_LEN + w.off, out + w.off)) < 0)
        return rc;
    return (int)len;
}

int vx_hsdesc_encode_plain(const struct vx_identity *svc, struct vx_hsdesc_outer *o,
                           const uint8_t *layer1, size_t l1len, const uint8_t *layer2, size_t l2len,
                           const uint8_t *cookie, uint8_t *out, size_t cap)
{
    static const uint8_t salt[SALT_LEN];
    uint8_t subcred[32], ct[LAYER_MAX], pt1[LAYER_MAX], ct1[LAYER_MAX];
    struct vx_blind_key bk;
    size_t n;
    int rc;

    o->version = VX_HSDESC_VERSION;
    if ((rc = vx_blind_keypair(svc, o->period, &bk)) < 0)
        return rc;
    memcpy(o->blinded_pk, bk.pk, VX_PK_LEN);
    if ((rc = vx_hs_subcredential(svc->pk, o->period, subcred)) < 0)
        goto out;
    rc = VX_ERR_TOOBIG;
    if (!layer1) {
        /* no client authorization: auth 0, then layer 2 sealed */
        if (l2len + 3 + SALT_LEN + TAG_LEN > sizeof(pt1) - SALT_LEN - TAG_LEN)
            goto out;
        n = seal_layer("vx6 hsdesc layer2", subcred, o, salt, cookie, layer2, l2len, ct);
        pt1[0] = 0;
        vx_be16_put(pt1 + 1, (uint16_t)n);
        memcpy(pt1 + 3, ct, n);
        layer1 = pt1;
        l1len = n + 3;
    }
    if (l1len > sizeof(ct1) - SALT_LEN - TAG_LEN)
        goto out;
    n = seal_layer("vx6 hsdesc layer1", subcred, o, salt, NULL, layer1, l1len, ct1);
    rc = finish_outer(&bk, o, ct1, n, out, cap);
out:
    vx_blind_wipe(&bk);
    return rc;
}

int vx_hsdesc_encode(struct vx_hsdesc *d, const struct vx_identity *svc,
                     const uint8_t (*clients)[VX_X25519_LEN], size_t n_clients, const uint8_t *rnd,
                     uint8_t *out, size_t cap)
{
    uint8_t seed[32], subcred[32], salt[SALT_LEN], cookie[VX_HS_COOKIE_KEY_LEN];
    uint8_t eph_sk[32], eph_pk[32];
    uint8_t pt2[LAYER_MAX], ct2[LAYER_MAX], pt1[LAYER_MAX], ct1[LAYER_MAX];
    struct vx_blind_key bk;
    struct vx_wcur w;
    size_t n2, n1;
    int rc;

    if (n_clients > VX_HSDESC_MAX_CLIENTS)
        return VX_ERR_INVAL;
    if (rnd)
        memcpy(seed, rnd, 32);
    else
        randombytes_buf(seed, 32);
    d->o.version = VX_HSDESC_VERSION;
    if ((rc = vx_blind_keypair(svc, d->o.period, &bk)) < 0)
        goto out;
    memcpy(d->o.blinded_pk, bk.pk, VX_PK_LEN);
    if ((rc = vx_hs_subcredential(svc->pk, d->o.period, subcred)) < 0)
        goto out;

    /* layer 2: the intro points */
    vx_wcur_init(&w, pt2, sizeof(pt2) - SALT_LEN - TAG_LEN);
    if ((rc = intros_put(&w, d)) < 0)
        goto out;
    if (n_clients) {
        derive(seed, "cookie", cookie, sizeof(cookie));
        derive(seed, "ephemeral", eph_sk, sizeof(eph_sk));
        crypto_scalarmult_base(eph_pk, eph_sk);
    }
    derive(seed, "salt2", salt, SALT_LEN);
    n2 = seal_layer("vx6 hsdesc layer2", subcred, &d->o, salt, n_clients ? cookie : NULL, pt2,
                    w.off, ct2);

    /* layer 1: client authorization and layer 2 */
    vx_wcur_init(&w, pt1, sizeof(pt1) - SALT_LEN - TAG_LEN);
    vx_wcur_u8(&w, n_clients ? 1 : 0);
    if (n_clients) {
        vx_wcur_bytes(&w, eph_pk, 32);
        vx_wcur_u8(&w, (uint8_t)n_clients);
        for (size_t i = 0; i < n_clients; i++) {
            uint8_t secret[32], id[CLIENT_ID], key[VX_HS_COOKIE_KEY_LEN];
            if (crypto_scalarmult(secret, eph_sk, clients[i]) != 0) {
                rc = VX_ERR_INVAL; /* a small-order client key */
                goto out;
            }
            client_keys(subcred, secret, eph_pk, id, key);
            for (size_t k = 0; k < sizeof(key); k++)
                key[k] ^= cookie[k];
            vx_wcur_bytes(&w, id, CLIENT_ID);
            vx_wcur_bytes(&w, key, sizeof(key));
            sodium_memzero(secret, sizeof(secret));
            sodium_memzero(key, sizeof(key));
        }
    }
    vx_wcur_u16(&w, (uint16_t)n2);
    vx_wcur_bytes(&w, ct2, n2);
    while (w.err == 0 && (w.off < PAD_MIN || w.off % PAD_TO))
        vx_wcur_u8(&w, 0);
    if (w.err) {
        rc = VX_ERR_TOOBIG;
        goto out;
    }
    derive(seed, "salt1", salt, SALT_LEN);
    n1 = seal_layer("vx6 hsdesc layer1", subcred, &d->o, salt, NULL, pt1, w.off, ct1);

    rc = finish_outer(&bk, &d->o, ct1, n1, out, cap);
out:
    vx_blind_wipe(&bk);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(cookie, sizeof(cookie));
    sodium_memzero(eph_sk, sizeof(eph_sk));
    sodium_memzero(pt2, sizeof(pt2));
    sodium_memzero(pt1, sizeof(pt1));
    return rc;
}

/* Syntax and signature of the outer layer; body and blen: layer 1. */
static int outer_parse(struct vx_hsdesc_outer *o, const uint8_t *in, size_t len, uint64_t now,
                       const uint8_t **body, size_t *blen)
{
    uint8_t msg[SIG_CTX_LEN + VX_HSDESC_MAX];
    const uint8_t *sig;
    struct vx_rcur r;
    uint16_t n;
    uint64_t cur;
    int rc;

    memset(o, 0, sizeof(*o));
    if (len > VX_HSDESC_MAX)
        return VX_ERR_TOOBIG;
    vx_rcur_init(&r, in, len);
    if ((rc = vx_rcur_u8(&r, &o->version)) < 0)
        return rc;
    if (o->version != VX_HSDESC_VERSION)
        return VX_ERR_VERSION;
    vx_rcur_bytes(&r, o->blinded_pk, VX_PK_LEN);
    vx_rcur_u64(&r, &o->period);
    vx_rcur_u64(&r, &o->revision);
    vx_rcur_u64(&r, &o->expires);
    vx_rcur_u16(&r, &n);
    vx_rcur_ptr(&r, body, n);
    if ((rc = vx_rcur_ptr(&r, &sig, VX_SIG_LEN)) < 0)
        return rc;
    if (vx_rcur_left(&r) != 0 || n < SALT_LEN + TAG_LEN)
        return VX_ERR_INVAL;
    *blen = n;
    memcpy(msg, SIG_CTX, SIG_CTX_LEN);
    memcpy(msg + SIG_CTX_LEN, in, len - VX_SIG_LEN);
    if ((rc = vx_verify(o->blinded_pk, msg, SIG_CTX_LEN + len - VX_SIG_LEN, sig)) < 0)
        return rc;
    cur = now / VX_BLIND_PERIOD_S;
    if (o->expires <= now || o->period + 1 < cur)
        return VX_ERR_EXPIRED;
    if (o->expires - now > VX_HSDESC_MAX_LIFETIME || o->period > cur + 1)
        return VX_ERR_INVAL;
    return 0;
}

int vx_hsdesc_parse_outer(struct vx_hsdesc_outer *o, const uint8_t *in, size_t len, uint64_t now)
{
    const uint8_t *body;
    size_t blen;
    return outer_parse(o, in, len, now, &body, &blen);
}

int vx_hsdesc_decode(struct vx_hsdesc *d, const uint8_t *in, size_t len,
                     const uint8_t pk[VX_PK_LEN], const uint8_t *client_sk, uint64_t now)
{
    uint8_t subcred[32], blinded[32], cookie[VX_HS_COOKIE_KEY_LEN];
    uint8_t pt1[LAYER_MAX], pt2[LAYER_MAX];
    const uint8_t *body, *l2, *entries = NULL, *eph_pk = NULL;
    size_t blen, n1, n2;
    uint8_t auth, n_clients = 0;
    uint16_t l2len;
    struct vx_rcur r;
    int rc, have_cookie = 0;

    memset(d, 0, sizeof(*d));
    if ((rc = outer_parse(&d->o, in, len, now, &body, &blen)) < 0)
        return rc;
    if (vx_blind_public(pk, d->o.period, blinded) < 0 ||
        sodium_memcmp(blinded, d->o.blinded_pk, VX_PK_LEN) != 0)
        return VX_ERR_BADSIG;
    if ((rc = vx_hs_subcredential(pk, d->o.period, subcred)) < 0)
        return rc;
    if ((rc = open_layer("vx6 hsdesc layer1", subcred, &d->o, NULL, body, blen, pt1, &n1)) < 0)
        goto out;

    vx_rcur_init(&r, pt1, n1);
    vx_rcur_u8(&r, &auth);
    if (auth == 1) {
        vx_rcur_ptr(&r, &eph_pk, 32);
        vx_rcur_u8(&r, &n_clients);
        if (r.err == 0 && (n_clients < 1 || n_clients > VX_HSDESC_MAX_CLIENTS)) {
            rc = VX_ERR_INVAL;
            goto out;
        }
        vx_rcur_ptr(&r, &entries, (size_t)n_clients * CLIENT_ENTRY);
    } else if (auth != 0) {
        rc = VX_ERR_INVAL;
        goto out;
    }
    vx_rcur_u16(&r, &l2len);
    if ((rc = vx_rcur_ptr(&r, &l2, l2len)) < 0)
        goto out;
    for (size_t i = r.off; i < n1; i++)
        if (pt1[i] != 0) {
            rc = VX_ERR_INVAL;
            goto out;
        }

    if (auth == 1) {
        uint8_t secret[32], id[CLIENT_ID], key[VX_HS_COOKIE_KEY_LEN];
        d->auth_required = 1;
        if (!client_sk) {
            rc = VX_ERR_AUTH_MISSING;
            goto out;
        }
        if (crypto_scalarmult(secret, client_sk, eph_pk) != 0) {
            rc = VX_ERR_INVAL;
            goto out;
        }
        client_keys(subcred, secret, eph_pk, id, key);
        for (size_t i = 0; i < n_clients && !have_cookie; i++) {
            const uint8_t *e = entries + i * CLIENT_ENTRY;
            if (sodium_memcmp(e, id, CLIENT_ID) == 0) {
                for (size_t k = 0; k < sizeof(cookie); k++)
                    cookie[k] = e[CLIENT_ID + k] ^ key[k];
                have_cookie = 1;
            }
        }
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(key, sizeof(key));
        if (!have_cookie) {
            rc = VX_ERR_AUTH;
            goto out;
        }
    }
    rc = open_layer("vx6 hsdesc layer2", subcred, &d->o, have_cookie ? cookie : NULL, l2, l2len,
                    pt2, &n2);
    if (rc < 0) {
        rc = auth == 1 ? VX_ERR_AUTH : VX_ERR_CRYPTO;
        goto out;
    }
    vx_rcur_init(&r, pt2, n2);
    rc = intros_get(&r, d);
    if (rc == VX_ERR_TRUNC)
        rc = VX_ERR_INVAL;
out:
    if (rc < 0) {
        struct vx_hsdesc_outer o = d->o;
        int ar = d->auth_required;
        memset(d, 0, sizeof(*d));
        d->o = o;
        d->auth_required = ar;
    }
    sodium_memzero(cookie, sizeof(cookie));
    sodium_memzero(pt1, sizeof(pt1));
    sodium_memzero(pt2, sizeof(pt2));
    return rc;
}

int vx_hsdesc_replaces(const struct vx_hsdesc_outer *nw, const struct vx_hsdesc_outer *old)
{
    if (memcmp(nw->blinded_pk, old->blinded_pk, VX_PK_LEN) != 0 || nw->period != old->period)
        return VX_ERR_INVAL;
    return nw->revision > old->revision ? 0 : VX_ERR_STALE;
}
