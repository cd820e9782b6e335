/* blind.c — Ed25519 key blinding per time period. */
#include "crypto/blind.h"
#include "lib/err.h"

#include <sodium.h>
#include <string.h>

#define BLIND_CONST  "vx6 blind v1"
#define PREFIX_CONST "vx6 blind prefix"

static void be64(uint8_t p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t vx_blind_period_of(uint64_t t)
{
    return t / VX_BLIND_PERIOD_S;
}

uint64_t vx_blind_period_start(uint64_t period)
{
    return period * VX_BLIND_PERIOD_S;
}

size_t vx_blind_periods(uint64_t t, uint64_t out[2])
{
    uint64_t n = vx_blind_period_of(t), off = t - vx_blind_period_start(n);

    out[0] = n;
    if (off >= VX_BLIND_PERIOD_S - VX_BLIND_OVERLAP_S) {
        out[1] = n + 1;
        return 2;
    }
    if (off < VX_BLIND_OVERLAP_S && n > 0) {
        out[1] = n - 1;
        return 2;
    }
    return 1;
}

int vx_blind_factor(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t h[32])
{
    crypto_generichash_state st;
    uint8_t wide[64], num[16];

    be64(num, period);
    be64(num + 8, VX_BLIND_PERIOD_S);
    crypto_generichash_init(&st, NULL, 0, sizeof(wide));
    crypto_generichash_update(&st, (const uint8_t *)BLIND_CONST, sizeof(BLIND_CONST) - 1);
    crypto_generichash_update(&st, pk, VX_PK_LEN);
    crypto_generichash_update(&st, num, sizeof(num));
    crypto_generichash_final(&st, wide, sizeof(wide));
    crypto_core_ed25519_scalar_reduce(h, wide);
    sodium_memzero(wide, sizeof(wide));
    /* h = 0 has probability 2^-252; refuse it rather than blind to the identity. */
    return sodium_is_zero(h, 32) ? VX_ERR_CRYPTO : 0;
}

int vx_blind_public(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t out[VX_PK_LEN])
{
    uint8_t h[32];
    int rc;

    if (!crypto_core_ed25519_is_valid_point(pk))
        return VX_ERR_BADADDR;
    if ((rc = vx_blind_factor(pk, period, h)) < 0)
        return rc;
    /* noclamp: h is already a reduced scalar; fails on an identity result. */
    return crypto_scalarmult_ed25519_noclamp(out, h, pk) == 0 ? 0 : VX_ERR_BADADDR;
}

int vx_blind_keypair(const struct vx_identity *id, uint64_t period, struct vx_blind_key *out)
{
    uint8_t az[64], h[32], a[32];
    crypto_generichash_state st;
    int rc;

    memset(out, 0, sizeof(*out));
    out->period = period;
    if ((rc = vx_blind_factor(id->pk, period, h)) < 0)
        return rc;
    /* RFC 8032 5.1.5: the secret scalar is the clamped first half of
     * SHA-512(seed); the seed is the first half of libsodium's sk. */
    crypto_hash_sha512(az, id->sk, VX_SEED_LEN);
    az[0] &= 248;
    az[31] &= 127;
    az[31] |= 64;
    /* The clamped value may exceed L; reduce it before multiplying. */
    {
        uint8_t wide[64] = {0};
        memcpy(wide, az, 32);
        crypto_core_ed25519_scalar_reduce(a, wide);
        sodium_memzero(wide, sizeof(wide));
    }
    crypto_core_ed25519_scalar_mul(out->scalar, h, a);
    crypto_generichash_init(&st, NULL, 0, sizeof(out->prefix));
    crypto_generichash_update(&st, (const uint8_t *)PREFIX_CONST, sizeof(PREFIX_CONST) - 1);
    crypto_generichash_update(&st, az + 32, 32);
    crypto_generichash_update(&st, h, sizeof(h));
    crypto_generichash_final(&st, out->prefix, sizeof(out->prefix));
    rc = crypto_scalarmult_ed25519_base_noclamp(out->pk, out->scalar) == 0 ? 0 : VX_ERR_CRYPTO;
    sodium_memzero(az, sizeof(az));
    sodium_memzero(a, sizeof(a));
    if (rc < 0)
        vx_blind_wipe(out);
    return rc;
}

int vx_blind_sign(const struct vx_blind_key *k, const uint8_t *msg, size_t len,
                  uint8_t sig[VX_SIG_LEN])
{
    crypto_hash_sha512_state st;
    uint8_t wide[64], r[32], hram[32];

    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, k->prefix, sizeof(k->prefix));
    crypto_hash_sha512_update(&st, msg, len);
    crypto_hash_sha512_final(&st, wide);
    crypto_core_ed25519_scalar_reduce(r, wide);
    /* r = 0 only with negligible probability; base_noclamp refuses it. */
    if (crypto_scalarmult_ed25519_base_noclamp(sig, r) != 0) {
        sodium_memzero(r, sizeof(r));
        return VX_ERR_CRYPTO;
    }
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig, 32);
    crypto_hash_sha512_update(&st, k->pk, VX_PK_LEN);
    crypto_hash_sha512_update(&st, msg, len);
    crypto_hash_sha512_final(&st, wide);
    crypto_core_ed25519_scalar_reduce(hram, wide);
    crypto_core_ed25519_scalar_mul(hram, hram, k->scalar);
    crypto_core_ed25519_scalar_add(sig + 32, hram, r);
    sodium_memzero(r, sizeof(r));
    sodium_memzero(wide, sizeof(wide));
    return 0;
}

void vx_blind_wipe(struct vx_blind_key *k)
{
    if (k)
        sodium_memzero(k, sizeof(*k));
}
