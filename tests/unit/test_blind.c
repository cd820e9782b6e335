/* test_blind.c — key blinding: vectors, sign/verify, unlinkability, periods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "crypto/blind.h"
#include "lib/err.h"

/* From tests/vectors/hidden_ref.py (pure Python, independent of libsodium). */
static const char *SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
#define PERIOD 19876
static const char *H_HEX = "61aba7b07c3d3d0c8396432ade5c001bd9e4300e07a323600ae7dbab0136ad04";
static const char *BLINDED_HEX = "181d75bde7e69e8d3eabd235e73bdf8ca7db6ee013312d78769e81851149051d";
static const char *BLINDED1_HEX =
        "bf9a95a2c0a1002ad25b5dfd8625cba73f83b982fb1eda1c8ddc5d4c23b0b30a";
static const char *SIG_HEX = "5d879b7288255d8440faba5e0ceba5e46f69b1ddced6c2427aaec9cac4deea55"
                             "d5f4e9f3110d0a36261243386baa9cc1f566f44ee23c92c0457c1872434c360c";
static const char *MSG = "vx6 blinded signature test";

static void hex(uint8_t *out, size_t n, const char *s)
{
    assert_int_equal(sodium_hex2bin(out, n, s, strlen(s), NULL, NULL, NULL), 0);
}

static void seed_id(struct vx_identity *id)
{
    uint8_t seed[32];
    hex(seed, 32, SEED_HEX);
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void test_vectors(void **state)
{
    struct vx_identity id;
    struct vx_blind_key k;
    uint8_t h[32], want[64], pub[32], sig[64];
    (void)state;

    seed_id(&id);
    assert_int_equal(vx_blind_factor(id.pk, PERIOD, h), 0);
    hex(want, 32, H_HEX);
    assert_memory_equal(h, want, 32);
    assert_int_equal(vx_blind_public(id.pk, PERIOD, pub), 0);
    hex(want, 32, BLINDED_HEX);
    assert_memory_equal(pub, want, 32);
    assert_int_equal(vx_blind_keypair(&id, PERIOD, &k), 0);
    assert_memory_equal(k.pk, want, 32);
    assert_int_equal(k.period, PERIOD);
    assert_int_equal(vx_blind_sign(&k, (const uint8_t *)MSG, strlen(MSG), sig), 0);
    hex(want, 64, SIG_HEX);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(vx_blind_public(id.pk, PERIOD + 1, pub), 0);
    hex(want, 32, BLINDED1_HEX);
    assert_memory_equal(pub, want, 32);
}

static void test_sign_verify_random(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct vx_identity id;
        struct vx_blind_key k;
        uint8_t pub[32], sig[64], msg[100];
        uint64_t period = 19000 + (uint64_t)i * 37;

        assert_int_equal(vx_identity_generate(&id), 0);
        randombytes_buf(msg, sizeof(msg));
        assert_int_equal(vx_blind_keypair(&id, period, &k), 0);
        /* a client knowing only A (the address) derives the same key */
        assert_int_equal(vx_blind_public(id.pk, period, pub), 0);
        assert_memory_equal(pub, k.pk, 32);
        assert_int_equal(vx_blind_sign(&k, msg, sizeof(msg), sig), 0);
        assert_int_equal(vx_verify(pub, msg, sizeof(msg), sig), 0);
        /* not under A, nor under another period's key, nor tampered */
        assert_int_equal(vx_verify(id.pk, msg, sizeof(msg), sig), VX_ERR_BADSIG);
        assert_int_equal(vx_blind_public(id.pk, period + 1, pub), 0);
        assert_int_equal(vx_verify(pub, msg, sizeof(msg), sig), VX_ERR_BADSIG);
        msg[3] ^= 1;
        assert_int_equal(vx_verify(k.pk, msg, sizeof(msg), sig), VX_ERR_BADSIG);
        vx_blind_wipe(&k);
        assert_true(sodium_is_zero(k.scalar, 32));
    }
}

static void test_unlinkable(void **state)
{
    struct vx_identity id;
    uint8_t p[8][32];
    (void)state;

    /* Different periods give different keys, none equal to A; differences
     * are not a fixed offset (A' of period n+1 is not A' of n plus const). */
    assert_int_equal(vx_identity_generate(&id), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(vx_blind_public(id.pk, 20000 + (uint64_t)i, p[i]), 0);
        assert_memory_not_equal(p[i], id.pk, 32);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(p[i], p[j], 32);
    }
    uint8_t d1[32], d2[32];
    assert_int_equal(crypto_core_ed25519_sub(d1, p[1], p[0]), 0);
    assert_int_equal(crypto_core_ed25519_sub(d2, p[2], p[1]), 0);
    assert_memory_not_equal(d1, d2, 32);
    /* two services in the same period do not share a blinded key */
    struct vx_identity other;
    uint8_t q[32];
    assert_int_equal(vx_identity_generate(&other), 0);
    assert_int_equal(vx_blind_public(other.pk, 20000, q), 0);
    assert_memory_not_equal(q, p[0], 32);
}

static void test_bad_points(void **state)
{
    uint8_t id_pt[32] = {1}, out[32], junk[32];
    (void)state;
    assert_int_equal(vx_blind_public(id_pt, 1, out), VX_ERR_BADADDR);
    memset(junk, 0xff, sizeof(junk));
    assert_int_equal(vx_blind_public(junk, 1, out), VX_ERR_BADADDR);
}

static void test_periods(void **state)
{
    uint64_t out[2], n = 19876, start = (uint64_t)n * 86400;
    (void)state;

    assert_int_equal(vx_blind_period_of(start), n);
    assert_int_equal(vx_blind_period_of(start - 1), n - 1);
    assert_int_equal(vx_blind_period_start(n), start);
    /* middle: one period */
    assert_int_equal(vx_blind_periods(start + 43200, out), 1);
    assert_int_equal(out[0], n);
    /* just after the start: also the previous one */
    assert_int_equal(vx_blind_periods(start + 10, out), 2);
    assert_int_equal(out[0], n);
    assert_int_equal(out[1], n - 1);
    assert_int_equal(vx_blind_periods(start + VX_BLIND_OVERLAP_S, out), 1);
    /* near the end: also the next one */
    assert_int_equal(vx_blind_periods(start + 86400 - 10, out), 2);
    assert_int_equal(out[1], n + 1);
    assert_int_equal(vx_blind_periods(start + 86400 - VX_BLIND_OVERLAP_S - 1, out), 1);
    /* time 0 has no previous period */
    assert_int_equal(vx_blind_periods(5, out), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),    cmocka_unit_test(test_sign_verify_random),
            cmocka_unit_test(test_unlinkable), cmocka_unit_test(test_bad_points),
            cmocka_unit_test(test_periods),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
