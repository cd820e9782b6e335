/* test_channel.c — record AEAD: vectors, round trips, tampering, replay,
 * reordering, rekey and nonce exhaustion, for ChaChaPoly and AES-256-GCM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/channel.h"
#include "crypto/noise_private.h"
#include "lib/err.h"
#include "lib/log.h"
#include "testutil.h"

#define VECTORS TESTS_SRCDIR "/vectors/channel.txt"

static const enum vx_aead all_aeads[] = {VX_AEAD_CHACHAPOLY, VX_AEAD_AESGCM};

static int aead_usable(enum vx_aead a)
{
    return a == VX_AEAD_CHACHAPOLY || vx_aead_aesgcm_available();
}

/* "-" stands for an empty field in the vector tables. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    return strcmp(s, "-") == 0 ? 0 : tu_unhex(s, out, cap);
}

static enum vx_aead aead_of(const char *name)
{
    if (strcmp(name, "chachapoly") == 0)
        return VX_AEAD_CHACHAPOLY;
    assert_string_equal(name, "aesgcm");
    return VX_AEAD_AESGCM;
}

/* Independent nonce construction and libsodium one-shot (combined) API. */
static void oneshot_seal(enum vx_aead a, const uint8_t key[32], uint64_t n, const uint8_t *ad,
                         size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
    uint8_t nonce[12] = {0};
    unsigned long long clen;

    for (int i = 0; i < 8; i++) {
        if (a == VX_AEAD_CHACHAPOLY)
            nonce[4 + i] = (uint8_t)(n >> (8 * i));
        else
            nonce[4 + i] = (uint8_t)(n >> (56 - 8 * i));
    }
    if (a == VX_AEAD_CHACHAPOLY)
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, ptlen, ad, adlen, NULL, nonce,
                                                  key);
    else
        crypto_aead_aes256gcm_encrypt(out, &clen, pt, ptlen, ad, adlen, NULL, nonce, key);
    assert_int_equal(clen, ptlen + 16);
}

static void test_vectors(void **state)
{
    char line[2048], f[6][600];
    FILE *fp = fopen(VECTORS, "r");
    int nchan = 0, nrekey = 0;

    (void)state;
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        uint8_t key[32], ad[64], pt[256], ct[300], want[300], newkey[32];
        size_t adlen, ptlen, ctlen;
        unsigned long long n;
        enum vx_aead a;
        struct vx_chan *c;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "chan %599s %599s %llu %599s %599s %599s", f[0], f[1], &n, f[2], f[3],
                   f[4]) == 6) {
            a = aead_of(f[0]);
            if (!aead_usable(a))
                continue;
            assert_int_equal(unhex(f[1], key, sizeof(key)), 32);
            adlen = unhex(f[2], ad, sizeof(ad));
            ptlen = unhex(f[3], pt, sizeof(pt));
            ctlen = unhex(f[4], want, sizeof(want));
            assert_int_equal(ctlen, ptlen + VX_CHAN_TAG_LEN);

            /* libsodium one-shot agrees with the independent vector */
            oneshot_seal(a, key, n, ad, adlen, pt, ptlen, ct);
            assert_memory_equal(ct, want, ctlen);

            /* the channel, in place, at that counter */
            c = vx_chan_new(a, key);
            assert_non_null(c);
            vx_chan_set_nonce(c, n);
            memcpy(ct, pt, ptlen);
            assert_int_equal(vx_chan_seal(c, ct, ptlen, adlen ? ad : NULL, adlen), 0);
            assert_memory_equal(ct, want, ctlen);
            assert_int_equal(vx_chan_nonce(c), n + 1);
            vx_chan_free(c);

            c = vx_chan_new(a, key);
            vx_chan_set_nonce(c, n);
            assert_int_equal(vx_chan_open(c, ct, ctlen, adlen ? ad : NULL, adlen), 0);
            assert_memory_equal(ct, pt, ptlen);
            vx_chan_free(c);
            nchan++;
        } else if (sscanf(line, "rekey %599s %599s %599s", f[0], f[1], f[2]) == 3) {
            a = aead_of(f[0]);
            if (!aead_usable(a))
                continue;
            unhex(f[1], key, sizeof(key));
            unhex(f[2], newkey, sizeof(newkey));
            /* After Rekey() the channel must behave exactly like a fresh
             * channel on the new key at the same counter. */
            c = vx_chan_new(a, key);
            vx_chan_set_nonce(c, 5);
            vx_chan_rekey(c);
            assert_int_equal(vx_chan_nonce(c), 5);
            memcpy(ct, "rekeyed", 7);
            assert_int_equal(vx_chan_seal(c, ct, 7, NULL, 0), 0);
            oneshot_seal(a, newkey, 5, NULL, 0, (const uint8_t *)"rekeyed", 7, want);
            assert_memory_equal(ct, want, 7 + 16);
            vx_chan_free(c);
            nrekey++;
        } else {
            fail_msg("bad vector line: %s", line);
        }
    }
    fclose(fp);
    assert_true(nchan >= 4);
    assert_true(nrekey >= 1);
}

static void pair(enum vx_aead a, struct vx_chan **tx, struct vx_chan **rx)
{
    uint8_t key[32];

    randombytes_buf(key, sizeof(key));
    *tx = vx_chan_new(a, key);
    *rx = vx_chan_new(a, key);
    assert_non_null(*tx);
    assert_non_null(*rx);
}

static void test_roundtrip(void **state)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 16384, 65519};
    uint8_t *buf = malloc(65536 + 16), *orig = malloc(65536);
    static const uint8_t ad[] = "record header";

    (void)state;
    for (size_t ai = 0; ai < 2; ai++) {
        struct vx_chan *tx, *rx;
        if (!aead_usable(all_aeads[ai]))
            continue;
        pair(all_aeads[ai], &tx, &rx);
        assert_int_equal(vx_chan_aead(tx), all_aeads[ai]);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            size_t len = lens[i];
            randombytes_buf(orig, len);
            memcpy(buf, orig, len);
            assert_int_equal(vx_chan_seal(tx, buf, len, ad, sizeof(ad)), 0);
            if (len >= 16)
                assert_memory_not_equal(buf, orig, len);
            assert_int_equal(vx_chan_open(rx, buf, len + 16, ad, sizeof(ad)), 0);
            assert_memory_equal(buf, orig, len);
        }
        assert_int_equal(vx_chan_nonce(tx), sizeof(lens) / sizeof(lens[0]));
        assert_int_equal(vx_chan_nonce(rx), vx_chan_nonce(tx));
        vx_chan_free(tx);
        vx_chan_free(rx);
    }
    free(buf);
    free(orig);
}

static void test_tamper(void **state)
{
    static const uint8_t msg[] = "attack at dawn, bring snacks";
    uint8_t buf[sizeof(msg) + 16], rec[sizeof(msg) + 16];
    uint8_t ad[4] = {1, 2, 3, 4};

    (void)state;
    for (size_t ai = 0; ai < 2; ai++) {
        struct vx_chan *tx, *rx;
        if (!aead_usable(all_aeads[ai]))
            continue;
        pair(all_aeads[ai], &tx, &rx);
        memcpy(rec, msg, sizeof(msg));
        assert_int_equal(vx_chan_seal(tx, rec, sizeof(msg), ad, sizeof(ad)), 0);

        /* every bit of ciphertext and tag matters */
        for (size_t i = 0; i < sizeof(rec) * 8; i++) {
            memcpy(buf, rec, sizeof(rec));
            buf[i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), ad, sizeof(ad)), VX_ERR_CRYPTO);
            assert_int_equal(vx_chan_nonce(rx), 0);
        }
        /* the associated data too */
        memcpy(buf, rec, sizeof(rec));
        ad[0] ^= 1;
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), ad, sizeof(ad)), VX_ERR_CRYPTO);
        ad[0] ^= 1;
        /* truncated records */
        for (size_t len = 0; len < sizeof(rec); len++) {
            memcpy(buf, rec, sizeof(rec));
            assert_int_equal(vx_chan_open(rx, buf, len, ad, sizeof(ad)),
                             len < 16 ? VX_ERR_TRUNC : VX_ERR_CRYPTO);
        }
        /* failures did not advance the nonce: the genuine record opens */
        memcpy(buf, rec, sizeof(rec));
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), ad, sizeof(ad)), 0);
        assert_memory_equal(buf, msg, sizeof(msg));
        vx_chan_free(tx);
        vx_chan_free(rx);
    }
}

static void test_replay_reorder(void **state)
{
    uint8_t r0[8 + 16], r1[8 + 16], buf[8 + 16];

    (void)state;
    for (size_t ai = 0; ai < 2; ai++) {
        struct vx_chan *tx, *rx;
        if (!aead_usable(all_aeads[ai]))
            continue;
        pair(all_aeads[ai], &tx, &rx);
        memcpy(r0, "record-0", 8);
        memcpy(r1, "record-1", 8);
        assert_int_equal(vx_chan_seal(tx, r0, 8, NULL, 0), 0);
        assert_int_equal(vx_chan_seal(tx, r1, 8, NULL, 0), 0);

        /* reordered: record 1 first */
        memcpy(buf, r1, sizeof(buf));
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), VX_ERR_CRYPTO);
        memcpy(buf, r0, sizeof(buf));
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), 0);
        assert_memory_equal(buf, "record-0", 8);
        /* replayed: record 0 again */
        memcpy(buf, r0, sizeof(buf));
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), VX_ERR_CRYPTO);
        memcpy(buf, r1, sizeof(buf));
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), 0);
        assert_memory_equal(buf, "record-1", 8);
        vx_chan_free(tx);
        vx_chan_free(rx);
    }
}

static void test_rekey(void **state)
{
    uint8_t buf[32 + 16];

    (void)state;
    for (size_t ai = 0; ai < 2; ai++) {
        struct vx_chan *tx, *rx, *stale;
        uint8_t key[32];
        if (!aead_usable(all_aeads[ai]))
            continue;
        randombytes_buf(key, sizeof(key));
        tx = vx_chan_new(all_aeads[ai], key);
        rx = vx_chan_new(all_aeads[ai], key);
        stale = vx_chan_new(all_aeads[ai], key);
        for (int round = 0; round < 3; round++) {
            memcpy(buf, "before rekey, before rekey, befo", 32);
            assert_int_equal(vx_chan_seal(tx, buf, 32, NULL, 0), 0);
            assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), 0);
            vx_chan_set_nonce(stale, vx_chan_nonce(rx));
        }
        vx_chan_rekey(tx);
        vx_chan_rekey(rx);
        memcpy(buf, "after rekey, after rekey, after ", 32);
        assert_int_equal(vx_chan_seal(tx, buf, 32, NULL, 0), 0);
        /* an end that did not rekey cannot read the new records */
        {
            uint8_t copy[sizeof(buf)];
            memcpy(copy, buf, sizeof(buf));
            assert_int_equal(vx_chan_open(stale, copy, sizeof(copy), NULL, 0), VX_ERR_CRYPTO);
        }
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), 0);
        assert_memory_equal(buf, "after rekey, after rekey, after ", 32);
        /* rekey is not idempotent: a second rekey on one side desyncs */
        vx_chan_rekey(tx);
        memcpy(buf, "x", 1);
        assert_int_equal(vx_chan_seal(tx, buf, 1, NULL, 0), 0);
        assert_int_equal(vx_chan_open(rx, buf, 17, NULL, 0), VX_ERR_CRYPTO);
        vx_chan_free(tx);
        vx_chan_free(rx);
        vx_chan_free(stale);
    }
}

static void test_nonce_exhaustion(void **state)
{
    uint8_t buf[4 + 16];

    (void)state;
    for (size_t ai = 0; ai < 2; ai++) {
        struct vx_chan *tx, *rx;
        if (!aead_usable(all_aeads[ai]))
            continue;
        pair(all_aeads[ai], &tx, &rx);
        vx_chan_set_nonce(tx, UINT64_MAX - 1);
        vx_chan_set_nonce(rx, UINT64_MAX - 1);
        memcpy(buf, "last", 4);
        assert_int_equal(vx_chan_seal(tx, buf, 4, NULL, 0), 0);
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), 0);
        assert_int_equal(vx_chan_nonce(tx), UINT64_MAX);
        /* 2^64-1 is reserved for rekey: refused both ways */
        memcpy(buf, "more", 4);
        assert_int_equal(vx_chan_seal(tx, buf, 4, NULL, 0), VX_ERR_LIMIT);
        assert_memory_equal(buf, "more", 4);
        assert_int_equal(vx_chan_open(rx, buf, sizeof(buf), NULL, 0), VX_ERR_LIMIT);
        assert_int_equal(vx_chan_nonce(tx), UINT64_MAX);
        vx_chan_free(tx);
        vx_chan_free(rx);
    }
}

static void test_misc(void **state)
{
    uint8_t key[32] = {0};

    (void)state;
    assert_string_equal(vx_aead_name(VX_AEAD_CHACHAPOLY), "ChaChaPoly");
    assert_string_equal(vx_aead_name(VX_AEAD_AESGCM), "AESGCM");
    assert_string_equal(vx_aead_name((enum vx_aead)99), "unknown");
    assert_null(vx_chan_new((enum vx_aead)99, key));
    if (!vx_aead_aesgcm_available())
        assert_null(vx_chan_new(VX_AEAD_AESGCM, key));
    vx_chan_free(NULL);

    /* different keys, same plaintext: different records */
    {
        uint8_t k2[32] = {1}, a[16 + 16] = {0}, b[16 + 16] = {0};
        struct vx_chan *c1 = vx_chan_new(VX_AEAD_CHACHAPOLY, key);
        struct vx_chan *c2 = vx_chan_new(VX_AEAD_CHACHAPOLY, k2);
        assert_int_equal(vx_chan_seal(c1, a, 16, NULL, 0), 0);
        assert_int_equal(vx_chan_seal(c2, b, 16, NULL, 0), 0);
        assert_memory_not_equal(a, b, sizeof(a));
        vx_chan_free(c1);
        vx_chan_free(c2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors), cmocka_unit_test(test_roundtrip),
            cmocka_unit_test(test_tamper),  cmocka_unit_test(test_replay_reorder),
            cmocka_unit_test(test_rekey),   cmocka_unit_test(test_nonce_exhaustion),
            cmocka_unit_test(test_misc),
    };
    vx_log_set_level(VX_LOG_NONE);
    if (sodium_init() < 0)
        return 1;
    if (!vx_aead_aesgcm_available())
        printf("# AES-256-GCM not available on this CPU: AES-GCM cases skipped\n");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
