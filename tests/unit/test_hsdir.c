/* test_hsdir.c — HSDESC records, descriptor publication and the client's
 * threshold decision over several holders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "crypto/blind.h"
#include "hidden/descriptor_private.h"
#include "hidden/hsdir.h"
#include "lib/err.h"
#include "lib/log.h"

#define PERIOD 19876ull
#define MID    (PERIOD * 86400 + 40000)

static struct vx_identity svc;

static int setup(void **state)
{
    uint8_t seed[32];
    (void)state;
    vx_log_set_level(VX_LOG_NONE);
    memset(seed, 0x61, sizeof(seed));
    return vx_identity_from_seed(&svc, seed);
}

static void fill(struct vx_hsdesc *d, int n)
{
    memset(d, 0, sizeof(*d));
    d->n_intros = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        struct vx_hs_intro *in = &d->intros[i];
        in->flags = i >= VX_HSDESC_ACTIVE ? VX_HS_INTRO_STANDBY : 0;
        memset(in->node_pk, 0x10 + i, 32);
        memset(in->auth_key, 0x20 + i, 32);
        memset(in->enc_key, 0x30 + i, 32);
        in->n_endpoints = 1;
        in->ep[0].family = 6;
        in->ep[0].transports = 3;
        in->ep[0].port = 4242;
        memset(in->ep[0].addr, 0xfd, 16);
    }
}

static void test_record(void **state)
{
    struct vx_hsdesc d;
    struct vx_record recs[VX_HSDIR_MAX_KEYS], back, bad;
    uint8_t enc[VX_RECORD_MAX], enc2[VX_RECORD_MAX], key[32], keys[VX_HSDESC_REPLICAS][32],
            blinded[32];
    uint64_t rev = 0;
    struct vx_identity other;
    int n, len;
    (void)state;

    fill(&d, 5);
    n = vx_hs_pub_records(&svc, &d, NULL, 0, MID, VX_HSDESC_LIFETIME, &rev, recs, 6);
    assert_int_equal(n, 3);
    assert_int_equal(rev, MID);
    assert_int_equal(vx_blind_public(svc.pk, PERIOD, blinded), 0);
    vx_hsdesc_positions(blinded, PERIOD, keys);
    for (int i = 0; i < n; i++) {
        assert_int_equal(recs[i].type, VX_REC_HSDESC);
        assert_memory_equal(recs[i].signer, blinded, 32);
        assert_int_equal(recs[i].seq, MID);
        assert_int_equal(recs[i].expires, MID + VX_HSDESC_LIFETIME);
        vx_record_key(&recs[i], key);
        assert_memory_equal(key, keys[i], 32);
        /* through the wire: encode, parse (signature by the blinded key) */
        len = vx_record_encode(&recs[i], enc, sizeof(enc));
        assert_true(len > 0 && len <= VX_RECORD_MAX);
        assert_int_equal(vx_record_parse(&back, enc, (size_t)len, MID), 0);
        assert_int_equal(back.u.hsdesc.len, recs[i].u.hsdesc.len);
        assert_memory_equal(back.u.hsdesc.desc, recs[i].u.hsdesc.desc, back.u.hsdesc.len);
        assert_int_equal(vx_record_encode(&back, enc2, sizeof(enc2)), len);
        assert_memory_equal(enc, enc2, (size_t)len);
        /* tampering anywhere fails */
        for (int j = 0; j < len; j += 7) {
            enc[j] ^= 0x20;
            assert_int_not_equal(vx_record_parse(&back, enc, (size_t)len, MID), 0);
            enc[j] ^= 0x20;
        }
    }
    /* signing with another key: not the descriptor's signer */
    bad = recs[0];
    assert_int_equal(vx_identity_generate(&other), 0);
    assert_int_equal(vx_record_sign(&bad, &other), VX_ERR_INVAL);
    bad = recs[0];
    bad.u.hsdesc.replica = 3;
    assert_int_equal(vx_record_encode(&bad, enc, sizeof(enc)), VX_ERR_INVAL);
    bad = recs[0];
    bad.seq++;
    assert_int_equal(vx_record_verify(&bad, MID), VX_ERR_INVAL);
    /* a newer revision replaces, the same or older does not */
    struct vx_record newer[6];
    assert_int_equal(vx_hs_pub_records(&svc, &d, NULL, 0, MID, 3600, &rev, newer, 6), 3);
    assert_int_equal(rev, MID + 1);
    assert_int_equal(vx_record_replaces(&newer[0], &recs[0], MID), 0);
    assert_int_equal(vx_record_replaces(&recs[0], &newer[0], MID), VX_ERR_STALE);
    assert_int_equal(vx_record_replaces(&recs[0], &recs[0], MID), VX_ERR_STALE);
    assert_int_equal(vx_record_replaces(&newer[1], &recs[0], MID), VX_ERR_INVAL);
    /* init checks */
    assert_int_equal(vx_record_init_hsdesc(&bad, 0, enc, 10, MID), VX_ERR_INVAL);
    assert_int_equal(vx_record_init_hsdesc(&bad, 0, enc, VX_RECORD_MAX_HSDESC + 1, MID),
                     VX_ERR_TOOBIG);
}

static void test_publish_periods(void **state)
{
    struct vx_hsdesc d;
    struct vx_record recs[VX_HSDIR_MAX_KEYS];
    uint64_t rev = 0, end = (PERIOD + 1) * 86400;
    uint8_t clients[VX_HSDESC_MAX_CLIENTS][32];
    int n;
    (void)state;

    fill(&d, 3);
    /* near the end of a period: this one and the next */
    n = vx_hs_pub_records(&svc, &d, NULL, 0, end - 600, 3600, &rev, recs, 6);
    assert_int_equal(n, 6);
    assert_int_not_equal(memcmp(recs[0].signer, recs[3].signer, 32), 0);
    assert_int_equal(vx_hs_pub_records(&svc, &d, NULL, 0, end - 600, 3600, &rev, recs, 5),
                     VX_ERR_TOOBIG);
    /* revisions grow even when the clock does not */
    uint64_t r0 = rev;
    assert_int_equal(vx_hs_pub_records(&svc, &d, NULL, 0, end - 600, 3600, &rev, recs, 6), 6);
    assert_true(rev > r0);
    /* a descriptor too large for a record is refused, not truncated */
    for (int i = 0; i < VX_HSDESC_MAX_CLIENTS; i++)
        memset(clients[i], 9 + i, 32);
    fill(&d, 5);
    assert_int_equal(vx_hs_pub_records(&svc, &d, (const uint8_t(*)[32])clients,
                                       VX_HSDESC_MAX_CLIENTS, MID, 3600, &rev, recs, 6),
                     VX_ERR_TOOBIG);
    assert_int_equal(vx_hs_pub_records(&svc, &d, NULL, 0, MID, 0, &rev, recs, 6), VX_ERR_INVAL);
    /* republication schedule */
    uint64_t s = PERIOD * 86400;
    assert_int_equal(vx_hs_pub_next(MID, 3 * 3600), MID + 5400);
    assert_int_equal(vx_hs_pub_next(s + 10, 3 * 3600), s + VX_BLIND_OVERLAP_S);
    assert_int_equal(vx_hs_pub_next(s + 86400 - 4000, 3 * 3600), s + 86400 - VX_BLIND_OVERLAP_S);
    assert_int_equal(vx_hs_pub_next(s + 86400 - 100, 3 * 3600), s + 86400);
}

/* Publish at MID and return the records (3). */
static void publish(struct vx_record *recs, uint64_t *rev, const uint8_t (*clients)[32], size_t nc)
{
    struct vx_hsdesc d;
    fill(&d, 5);
    assert_int_equal(vx_hs_pub_records(&svc, &d, clients, nc, MID, 3600, rev, recs, 6), 3);
}

static void test_fetch(void **state)
{
    struct vx_record a[6], b[6], c[6];
    struct vx_hs_fetch f;
    struct vx_hsdesc got;
    uint64_t rev = 0;
    (void)state;

    publish(a, &rev, NULL, 0);
    publish(b, &rev, NULL, 0); /* a newer revision */
    publish(c, &rev, NULL, 0); /* and a newer one still */

    /* all three agree */
    assert_int_equal(vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0), 0);
    assert_int_equal(f.n, 3);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN);
    vx_hs_fetch_answer(&f, 0, &a[0], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN); /* one is not enough */
    vx_hs_fetch_answer(&f, 1, &a[1], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0); /* threshold 2 reached */
    assert_int_equal(got.n_intros, 5);
    assert_int_equal(got.o.revision, a[0].seq);

    /* one holder has nothing: two still agree */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, NULL, VX_ERR_NOTFOUND);
    vx_hs_fetch_answer(&f, 1, &a[1], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN);
    vx_hs_fetch_answer(&f, 2, &a[2], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);

    /* only one answers: not accepted */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &b[0], 0);
    vx_hs_fetch_answer(&f, 1, NULL, VX_ERR_TIMEOUT);
    vx_hs_fetch_answer(&f, 2, NULL, VX_ERR_NOTFOUND);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_NOTFOUND);
    /* ... unless the threshold is 1 */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 1);
    vx_hs_fetch_answer(&f, 0, &b[0], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);

    /* newest at two holders, an old copy at one: the newest wins at once */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &a[0], 0);
    vx_hs_fetch_answer(&f, 1, &b[1], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN);
    vx_hs_fetch_answer(&f, 2, &b[2], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);
    assert_int_equal(got.o.revision, b[0].seq);

    /* newest at one holder only (the others missed the republication),
     * older agreed by two: the newest, once all answered — it is signed
     * with the blinded key like the others */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &b[0], 0);
    vx_hs_fetch_answer(&f, 1, &a[1], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN);
    vx_hs_fetch_answer(&f, 2, &a[2], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);
    assert_int_equal(got.o.revision, b[0].seq);

    /* three holders, three revisions (republished while the holders were
     * being stored): not "no agreement" but the newest */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &a[0], 0);
    vx_hs_fetch_answer(&f, 1, &c[1], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AGAIN);
    vx_hs_fetch_answer(&f, 2, &b[2], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);
    assert_int_equal(got.o.revision, c[0].seq);

    /* two valid answers of different revisions and one miss: the newest */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &a[0], 0);
    vx_hs_fetch_answer(&f, 1, NULL, VX_ERR_TIMEOUT);
    vx_hs_fetch_answer(&f, 2, &b[2], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);
    assert_int_equal(got.o.revision, b[0].seq);

    /* replays of an older revision than one already accepted: stale */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, b[0].seq, 0);
    for (size_t i = 0; i < 3; i++)
        vx_hs_fetch_answer(&f, i, &a[i], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_STALE);

    /* a record at the wrong position, or from another key, is ignored */
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    vx_hs_fetch_answer(&f, 0, &a[1], 0);
    vx_hs_fetch_answer(&f, 1, &a[2], 0);
    vx_hs_fetch_answer(&f, 2, &a[0], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_NOTFOUND);
    struct vx_identity other;
    struct vx_record o[6];
    struct vx_hsdesc d;
    uint64_t orev = 0;
    fill(&d, 1);
    assert_int_equal(vx_identity_generate(&other), 0);
    assert_int_equal(vx_hs_pub_records(&other, &d, NULL, 0, MID, 3600, &orev, o, 6), 3);
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    for (size_t i = 0; i < 3; i++)
        vx_hs_fetch_answer(&f, i, &o[i], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_NOTFOUND);
    /* answers are taken once; out-of-range slots are ignored */
    vx_hs_fetch_answer(&f, 0, &a[0], 0);
    vx_hs_fetch_answer(&f, 99, &a[0], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_NOTFOUND);

    /* a bad key */
    uint8_t bad[32] = {1};
    assert_int_equal(vx_hs_fetch_init(&f, bad, NULL, MID, 0, 0), VX_ERR_BADADDR);
    /* near a boundary: both periods are asked */
    assert_int_equal(vx_hs_fetch_init(&f, svc.pk, NULL, PERIOD * 86400 + 5, 0, 0), 0);
    assert_int_equal(f.n, 6);
}

static void test_fetch_auth_corrupt(void **state)
{
    struct vx_record a[6], c;
    struct vx_hs_fetch f;
    struct vx_hsdesc got;
    uint8_t sk[32], pk[1][32], wrong[32];
    uint64_t rev = 0;
    (void)state;

    randombytes_buf(sk, 32);
    randombytes_buf(wrong, 32);
    crypto_scalarmult_base(pk[0], sk);
    publish(a, &rev, (const uint8_t(*)[32])pk, 1);
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    for (size_t i = 0; i < 3; i++)
        vx_hs_fetch_answer(&f, i, &a[i], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AUTH_MISSING);
    vx_hs_fetch_init(&f, svc.pk, wrong, MID, 0, 0);
    for (size_t i = 0; i < 3; i++)
        vx_hs_fetch_answer(&f, i, &a[i], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_AUTH);
    vx_hs_fetch_init(&f, svc.pk, sk, MID, 0, 0);
    for (size_t i = 0; i < 2; i++)
        vx_hs_fetch_answer(&f, i, &a[i], 0);
    assert_int_equal(vx_hs_fetch_result(&f, &got), 0);
    assert_int_equal(got.auth_required, 1);
    vx_hs_fetch_wipe(&f);
    assert_true(sodium_is_zero(f.client_sk, 32));

    /* validly signed records whose body does not parse: corrupt */
    struct vx_hsdesc_outer o = {.period = PERIOD, .revision = 5, .expires = MID + 600};
    uint8_t junk[40] = {3}, buf[VX_HSDESC_MAX];
    struct vx_blind_key bk;
    int n = vx_hsdesc_encode_plain(&svc, &o, NULL, 0, junk, sizeof(junk), NULL, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(vx_blind_keypair(&svc, PERIOD, &bk), 0);
    vx_hs_fetch_init(&f, svc.pk, NULL, MID, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(vx_record_init_hsdesc(&c, i, buf, (size_t)n, MID), 0);
        assert_int_equal(vx_record_sign_blinded(&c, &bk), 0);
        assert_int_equal(vx_record_verify(&c, MID), 0);
        vx_hs_fetch_answer(&f, i, &c, 0);
    }
    assert_int_equal(vx_hs_fetch_result(&f, &got), VX_ERR_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_record),
            cmocka_unit_test(test_publish_periods),
            cmocka_unit_test(test_fetch),
            cmocka_unit_test(test_fetch_auth_corrupt),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, NULL);
}
