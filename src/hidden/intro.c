/* intro.c — INTRODUCE / RENDEZVOUS messages, hs-ntor-like keys, replay cache. */
#include "hidden/intro.h"
#include "lib/err.h"
#include "wire/cursor.h"
#include "lib/xalloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HDR_LEN  (1 + 32 + 32)
#define TAG_LEN  16
#define PROTOID  "vx6-hs-ntor-1"
#define PROTOLEN (sizeof(PROTOID) - 1)

uint64_t vx_intro_epoch(uint64_t t)
{
    return t / VX_INTRO_EPOCH_S;
}

static void eph_key(const uint8_t *eph, const char *label, uint8_t sk[32], uint8_t pk[32])
{
    if (eph)
        crypto_generichash(sk, 32, (const uint8_t *)label, strlen(label), eph, 32);
    else
        randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
}

/* key || nonce of the INTRODUCE encryption. */
static void intro_keys(const uint8_t shared[32], const uint8_t K[32], const uint8_t X[32],
                       const uint8_t B[32], const uint8_t subcred[32], uint8_t key[32],
                       uint8_t nonce[24])
{
    static const char c[] = "vx6 intro v1";
    crypto_generichash_state st;
    uint8_t out[64];

    crypto_generichash_init(&st, NULL, 0, sizeof(out));
    crypto_generichash_update(&st, (const uint8_t *)c, sizeof(c) - 1);
    crypto_generichash_update(&st, shared, 32);
    crypto_generichash_update(&st, K, 32);
    crypto_generichash_update(&st, X, 32);
    crypto_generichash_update(&st, B, 32);
    crypto_generichash_update(&st, subcred, 32);
    crypto_generichash_final(&st, out, sizeof(out));
    memcpy(key, out, 32);
    memcpy(nonce, out + 32, 24);
    sodium_memzero(out, sizeof(out));
}

void vx_intro_req_fill(struct vx_intro_req *req, uint64_t now, const uint8_t rend_pk[VX_PK_LEN],
                       const struct vx_hs_endpoint *eps, size_t n)
{
    memset(req, 0, sizeof(*req));
    req->epoch = vx_intro_epoch(now);
    randombytes_buf(req->nonce, sizeof(req->nonce));
    randombytes_buf(req->cookie, sizeof(req->cookie));
    memcpy(req->rend_pk, rend_pk, VX_PK_LEN);
    if (n > VX_HSDESC_MAX_EP)
        n = VX_HSDESC_MAX_EP;
    req->n_endpoints = (uint8_t)n;
    memcpy(req->ep, eps, n * sizeof(*eps));
}

int vx_intro_build(struct vx_intro_client *st, const struct vx_intro_req *req,
                   const struct vx_hs_intro *in, const uint8_t subcred[32], const uint8_t *eph,
                   uint8_t *out, size_t cap)
{
    uint8_t pt[VX_INTRO_PLAIN_LEN] = {0}, shared[32], key[32], nonce[24];
    struct vx_wcur w;
    int rc = 0;

    memset(st, 0, sizeof(*st));
    if (cap < VX_INTRO_LEN)
        return VX_ERR_TOOBIG;
    if (req->n_endpoints < 1 || req->n_endpoints > VX_HSDESC_MAX_EP ||
        !crypto_core_ed25519_is_valid_point(req->rend_pk))
        return VX_ERR_INVAL;
    vx_wcur_init(&w, pt, sizeof(pt));
    vx_wcur_u64(&w, req->epoch);
    vx_wcur_bytes(&w, req->nonce, VX_INTRO_NONCE_LEN);
    vx_wcur_bytes(&w, req->cookie, VX_INTRO_COOKIE_LEN);
    vx_wcur_bytes(&w, req->rend_pk, VX_PK_LEN);
    vx_wcur_u8(&w, req->n_endpoints);
    for (size_t i = 0; i < req->n_endpoints; i++)
        if ((rc = vx_hs_endpoint_put(&w, &req->ep[i])) < 0)
            return rc == VX_ERR_TOOBIG ? VX_ERR_INTERNAL : rc;
    if (w.err)
        return VX_ERR_INTERNAL; /* VX_INTRO_PLAIN_LEN holds the largest */

    eph_key(eph, "vx6 intro client", st->x, st->X);
    memcpy(st->auth_key, in->auth_key, 32);
    memcpy(st->B, in->enc_key, 32);
    memcpy(st->cookie, req->cookie, VX_INTRO_COOKIE_LEN);
    if (crypto_scalarmult(shared, st->x, st->B) != 0) {
        rc = VX_ERR_CRYPTO;
        goto out;
    }
    intro_keys(shared, st->auth_key, st->X, st->B, subcred, key, nonce);
    out[0] = VX_INTRO_VERSION;
    memcpy(out + 1, st->auth_key, 32);
    memcpy(out + 33, st->X, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + HDR_LEN, NULL, pt, sizeof(pt), out, HDR_LEN,
                                               NULL, nonce, key);
    crypto_generichash(st->transcript, 32, out, VX_INTRO_LEN, NULL, 0);
out:
    sodium_memzero(pt, sizeof(pt));
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    if (rc < 0)
        vx_intro_client_wipe(st);
    return rc;
}

int vx_intro_auth_key(const uint8_t *msg, size_t len, uint8_t auth_key[32])
{
    if (len < 1)
        return VX_ERR_TRUNC;
    if (msg[0] != VX_INTRO_VERSION)
        return VX_ERR_VERSION;
    if (len != VX_INTRO_LEN)
        return len < VX_INTRO_LEN ? VX_ERR_TRUNC : VX_ERR_INVAL;
    memcpy(auth_key, msg + 1, 32);
    return 0;
}

int vx_intro_open(struct vx_intro_req *req, uint8_t X[32], uint8_t transcript[32],
                  const struct vx_intro_svc *svc, const uint8_t *msg, size_t len, uint64_t now,
                  struct vx_replay *rc)
{
    uint8_t pt[VX_INTRO_PLAIN_LEN], shared[32], key[32], nonce[24], K[32];
    struct vx_rcur r;
    int err;

    memset(req, 0, sizeof(*req));
    if ((err = vx_intro_auth_key(msg, len, K)) < 0)
        return err;
    if (sodium_memcmp(K, svc->auth_key, 32) != 0)
        return VX_ERR_PEER_ID;
    memcpy(X, msg + 33, 32);
    if (crypto_scalarmult(shared, svc->b, X) != 0)
        return VX_ERR_CRYPTO;
    intro_keys(shared, K, X, svc->B, svc->subcred, key, nonce);
    err = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, msg + HDR_LEN, len - HDR_LEN,
                                                     msg, HDR_LEN, nonce, key);
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    if (err != 0)
        return VX_ERR_CRYPTO;
    vx_rcur_init(&r, pt, sizeof(pt));
    vx_rcur_u64(&r, &req->epoch);
    vx_rcur_bytes(&r, req->nonce, VX_INTRO_NONCE_LEN);
    vx_rcur_bytes(&r, req->cookie, VX_INTRO_COOKIE_LEN);
    vx_rcur_bytes(&r, req->rend_pk, VX_PK_LEN);
    if ((err = vx_rcur_u8(&r, &req->n_endpoints)) < 0)
        goto bad;
    err = VX_ERR_INVAL;
    if (req->n_endpoints < 1 || req->n_endpoints > VX_HSDESC_MAX_EP)
        goto bad;
    /* a key no node can hold (small order, not on the curve): no point
     * in building a circuit to it */
    if (!crypto_core_ed25519_is_valid_point(req->rend_pk))
        goto bad;
    for (size_t i = 0; i < req->n_endpoints; i++)
        if (vx_hs_endpoint_get(&r, &req->ep[i]) < 0)
            goto bad;
    for (size_t i = r.off; i < sizeof(pt); i++)
        if (pt[i] != 0)
            goto bad;
    if (rc) {
        if ((err = vx_replay_check(rc, req->nonce, req->epoch, vx_intro_epoch(now))) < 0)
            goto bad;
    } else if (req->epoch + 1 < vx_intro_epoch(now) || req->epoch > vx_intro_epoch(now) + 1) {
        err = VX_ERR_EXPIRED;
        goto bad;
    }
    crypto_generichash(transcript, 32, msg, len, NULL, 0);
    sodium_memzero(pt, sizeof(pt));
    return 0;
bad:
    sodium_memzero(pt, sizeof(pt));
    memset(req, 0, sizeof(*req));
    return err;
}

/* The hs-ntor computation shared by both sides. */
static void ntor(const uint8_t e1[32], const uint8_t e2[32], const uint8_t K[32],
                 const uint8_t B[32], const uint8_t X[32], const uint8_t Y[32], const uint8_t T[32],
                 uint8_t auth[32], struct vx_hs_keys *keys)
{
    static const char kx[] = PROTOID ":key_extract", kv[] = PROTOID ":verify",
                      km[] = PROTOID ":mac", ke[] = PROTOID ":expand";
    uint8_t secret[7 * 32 + PROTOLEN], seed[32], verify[32], ai[32 * 5 + 6], out[64];

    memcpy(secret, e1, 32);
    memcpy(secret + 32, e2, 32);
    memcpy(secret + 64, K, 32);
    memcpy(secret + 96, B, 32);
    memcpy(secret + 128, X, 32);
    memcpy(secret + 160, Y, 32);
    memcpy(secret + 192, T, 32);
    memcpy(secret + 224, PROTOID, PROTOLEN);
    crypto_generichash(seed, 32, secret, sizeof(secret), (const uint8_t *)kx, sizeof(kx) - 1);
    crypto_generichash(verify, 32, secret, sizeof(secret), (const uint8_t *)kv, sizeof(kv) - 1);
    memcpy(ai, verify, 32);
    memcpy(ai + 32, K, 32);
    memcpy(ai + 64, B, 32);
    memcpy(ai + 96, Y, 32);
    memcpy(ai + 128, X, 32);
    memcpy(ai + 160, "Server", 6);
    crypto_generichash(auth, 32, ai, sizeof(ai), (const uint8_t *)km, sizeof(km) - 1);
    crypto_generichash(out, 64, (const uint8_t *)ke, sizeof(ke) - 1, seed, 32);
    memcpy(keys->c2s, out, 32);
    memcpy(keys->s2c, out + 32, 32);
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(verify, sizeof(verify));
    sodium_memzero(out, sizeof(out));
}

int vx_rend_build(struct vx_hs_keys *keys, const struct vx_intro_svc *svc,
                  const struct vx_intro_req *req, const uint8_t X[32], const uint8_t transcript[32],
                  const uint8_t *eph, uint8_t *out, size_t cap)
{
    uint8_t y[32], Y[32], e1[32], e2[32], auth[32];
    int rc = 0;

    memset(keys, 0, sizeof(*keys));
    if (cap < VX_REND1_LEN)
        return VX_ERR_TOOBIG;
    eph_key(eph, "vx6 rend service", y, Y);
    if (crypto_scalarmult(e1, y, X) != 0 || crypto_scalarmult(e2, svc->b, X) != 0) {
        rc = VX_ERR_CRYPTO;
        goto out;
    }
    ntor(e1, e2, svc->auth_key, svc->B, X, Y, transcript, auth, keys);
    memcpy(out, req->cookie, VX_INTRO_COOKIE_LEN);
    memcpy(out + VX_INTRO_COOKIE_LEN, Y, 32);
    memcpy(out + VX_INTRO_COOKIE_LEN + 32, auth, 32);
out:
    sodium_memzero(y, sizeof(y));
    sodium_memzero(e1, sizeof(e1));
    sodium_memzero(e2, sizeof(e2));
    return rc;
}

int vx_rend1_split(const uint8_t *msg, size_t len, uint8_t cookie[VX_INTRO_COOKIE_LEN],
                   uint8_t rend2[VX_REND2_LEN])
{
    if (len != VX_REND1_LEN)
        return VX_ERR_INVAL;
    memcpy(cookie, msg, VX_INTRO_COOKIE_LEN);
    memcpy(rend2, msg + VX_INTRO_COOKIE_LEN, VX_REND2_LEN);
    return 0;
}

int vx_rend_finish(struct vx_hs_keys *keys, struct vx_intro_client *st, const uint8_t *msg,
                   size_t len)
{
    uint8_t e1[32], e2[32], auth[32];
    int rc = 0;

    memset(keys, 0, sizeof(*keys));
    if (len != VX_REND2_LEN)
        return VX_ERR_INVAL;
    if (crypto_scalarmult(e1, st->x, msg) != 0 || crypto_scalarmult(e2, st->x, st->B) != 0) {
        rc = VX_ERR_CRYPTO;
        goto out;
    }
    ntor(e1, e2, st->auth_key, st->B, st->X, msg, st->transcript, auth, keys);
    if (sodium_memcmp(auth, msg + 32, 32) != 0) {
        sodium_memzero(keys, sizeof(*keys));
        rc = VX_ERR_CRYPTO;
        goto out;
    }
    vx_intro_client_wipe(st);
out:
    sodium_memzero(e1, sizeof(e1));
    sodium_memzero(e2, sizeof(e2));
    return rc;
}

void vx_intro_client_wipe(struct vx_intro_client *st)
{
    if (st)
        sodium_memzero(st, sizeof(*st));
}

/* ---- replay cache ---- */

struct replay_entry {
    uint8_t nonce[VX_INTRO_NONCE_LEN];
    uint64_t epoch;
    int32_t next; /* bucket chain, -1 ends */
    uint32_t bucket;
};

struct vx_replay {
    size_t max, count, head; /* ring: entries head .. head + count - 1 (mod max) */
    size_t nbuckets;         /* power of two */
    struct replay_entry *e;
    int32_t *bucket;
    uint8_t key[crypto_shorthash_KEYBYTES];
    struct vx_replay_stats st;
};

struct vx_replay *vx_replay_new(size_t max)
{
    struct vx_replay *rc = xcalloc(1, sizeof(*rc));

    if (max < 1)
        max = 1;
    if (max > (1u << 24))
        max = 1u << 24;
    rc->max = max;
    rc->nbuckets = 1;
    while (rc->nbuckets < max)
        rc->nbuckets <<= 1;
    rc->e = xcalloc(max, sizeof(*rc->e));
    rc->bucket = xcalloc(rc->nbuckets, sizeof(*rc->bucket));
    for (size_t i = 0; i < rc->nbuckets; i++)
        rc->bucket[i] = -1;
    /* keyed hash: senders cannot aim at one chain */
    randombytes_buf(rc->key, sizeof(rc->key));
    return rc;
}

void vx_replay_free(struct vx_replay *rc)
{
    if (!rc)
        return;
    free(rc->e);
    free(rc->bucket);
    free(rc);
}

static uint32_t replay_hash(const struct vx_replay *rc, const uint8_t nonce[16], uint64_t epoch)
{
    uint8_t in[24], h[crypto_shorthash_BYTES];

    memcpy(in, nonce, 16);
    for (int i = 0; i < 8; i++)
        in[16 + i] = (uint8_t)(epoch >> (8 * i));
    crypto_shorthash(h, in, sizeof(in), rc->key);
    return (uint32_t)(((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                       (uint32_t)h[3] << 24) &
                      (rc->nbuckets - 1));
}

/* Drop the oldest entry. */
static void replay_pop(struct vx_replay *rc)
{
    struct replay_entry *old = &rc->e[rc->head];
    int32_t *pp = &rc->bucket[old->bucket];

    while (*pp != -1 && *pp != (int32_t)rc->head)
        pp = &rc->e[*pp].next;
    if (*pp == (int32_t)rc->head)
        *pp = old->next;
    rc->head = (rc->head + 1) % rc->max;
    rc->count--;
}

int vx_replay_check(struct vx_replay *rc, const uint8_t nonce[VX_INTRO_NONCE_LEN], uint64_t epoch,
                    uint64_t now_epoch)
{
    uint32_t b;
    size_t slot;

    if (epoch + 1 < now_epoch || epoch > now_epoch + 1) {
        rc->st.wrong_epoch++;
        return VX_ERR_EXPIRED;
    }
    /* entries that fell out of the window are no longer needed */
    while (rc->count && rc->e[rc->head].epoch + 1 < now_epoch)
        replay_pop(rc);
    b = replay_hash(rc, nonce, epoch);
    for (int32_t i = rc->bucket[b]; i != -1; i = rc->e[i].next)
        if (rc->e[i].epoch == epoch && memcmp(rc->e[i].nonce, nonce, VX_INTRO_NONCE_LEN) == 0) {
            rc->st.replays++;
            return VX_ERR_REPLAY;
        }
    if (rc->count == rc->max) {
        replay_pop(rc);
        rc->st.evicted++;
    }
    slot = (rc->head + rc->count) % rc->max;
    memcpy(rc->e[slot].nonce, nonce, VX_INTRO_NONCE_LEN);
    rc->e[slot].epoch = epoch;
    rc->e[slot].bucket = b;
    rc->e[slot].next = rc->bucket[b];
    rc->bucket[b] = (int32_t)slot;
    rc->count++;
    rc->st.accepted++;
    return 0;
}

void vx_replay_stats(const struct vx_replay *rc, struct vx_replay_stats *st)
{
    *st = rc->st;
    st->entries = rc->count;
}
