/* test_noise.c — the Noise XX / IK handshake: published test vectors,
 * handshakes between VX6 identities, and every way a peer can misbehave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/channel.h"
#include "crypto/identity.h"
#include "crypto/noise.h"
#include "crypto/noise_private.h"
#include "lib/err.h"
#include "lib/log.h"
#include "testutil.h"

#define VECTORS      TESTS_SRCDIR "/vectors/noise.txt"
#define PROLOGUE     ((const uint8_t *)"VX6 session v1")
#define PROLOGUE_LEN 14
#define MSGCAP       1024

static struct vx_identity id_a, id_b, id_c;

static int setup(void **state)
{
    uint8_t seed[VX_SEED_LEN];

    (void)state;
    memset(seed, 'a', sizeof(seed));
    if (vx_identity_from_seed(&id_a, seed) < 0)
        return -1;
    memset(seed, 'b', sizeof(seed));
    if (vx_identity_from_seed(&id_b, seed) < 0)
        return -1;
    memset(seed, 'c', sizeof(seed));
    return vx_identity_from_seed(&id_c, seed) < 0 ? -1 : 0;
}

/* ---- published vectors (cacophony) ---- */

struct vmsg {
    uint8_t payload[64], ct[256];
    size_t plen, ctlen;
};

struct vector {
    char name[64];
    uint8_t prologue[64];
    size_t prologue_len;
    uint8_t init_static[32], init_ephemeral[32], init_remote_static[32];
    uint8_t resp_static[32], resp_ephemeral[32];
    int has_init_remote_static;
    struct vmsg msgs[8];
    int nmsgs;
};

static int read_vector(FILE *fp, struct vector *v)
{
    char line[1024], key[64], a[600], b[600];

    memset(v, 0, sizeof(*v));
    while (fgets(line, sizeof(line), fp)) {
        int nf;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        nf = sscanf(line, "%63s %599s %599s", key, a, b);
        if (strcmp(key, "end") == 0)
            return 1;
        assert_true(nf >= 2);
        if (strcmp(key, "name") == 0) {
            assert_true(strlen(a) < sizeof(v->name));
            memcpy(v->name, a, strlen(a) + 1);
        } else if (strcmp(key, "init_prologue") == 0) {
            v->prologue_len = tu_unhex(a, v->prologue, sizeof(v->prologue));
        } else if (strcmp(key, "resp_prologue") == 0) {
            uint8_t p[64];
            assert_int_equal(tu_unhex(a, p, sizeof(p)), v->prologue_len);
            assert_memory_equal(p, v->prologue, v->prologue_len);
        } else if (strcmp(key, "init_static") == 0) {
            tu_unhex(a, v->init_static, 32);
        } else if (strcmp(key, "init_ephemeral") == 0) {
            tu_unhex(a, v->init_ephemeral, 32);
        } else if (strcmp(key, "init_remote_static") == 0) {
            tu_unhex(a, v->init_remote_static, 32);
            v->has_init_remote_static = 1;
        } else if (strcmp(key, "resp_static") == 0) {
            tu_unhex(a, v->resp_static, 32);
        } else if (strcmp(key, "resp_ephemeral") == 0) {
            tu_unhex(a, v->resp_ephemeral, 32);
        } else if (strcmp(key, "msg") == 0) {
            struct vmsg *m = &v->msgs[v->nmsgs++];
            assert_int_equal(nf, 3);
            assert_true(v->nmsgs <= 8);
            m->plen = tu_unhex(a, m->payload, sizeof(m->payload));
            m->ctlen = tu_unhex(b, m->ct, sizeof(m->ct));
        } else {
            fail_msg("unknown vector key %s", key);
        }
    }
    return 0;
}

static void run_vector(const struct vector *v)
{
    enum vx_noise_pattern pat = VX_NOISE_XX;
    struct vx_noise *ini, *rsp;
    struct vx_chan *itx, *irx, *rtx, *rrx;
    uint8_t out[MSGCAP], pl[MSGCAP], hi[64], hr[64];
    size_t outlen, plen;
    int i = 0;

    if (strcmp(v->name, "Noise_XX_25519_ChaChaPoly_BLAKE2b") == 0)
        pat = VX_NOISE_XX;
    else if (strcmp(v->name, "Noise_IK_25519_ChaChaPoly_BLAKE2b") == 0)
        pat = VX_NOISE_IK;
    else
        fail_msg("unexpected vector %s", v->name);

    ini = vx_noise_new_raw(1, pat, v->init_static,
                           v->has_init_remote_static ? v->init_remote_static : NULL,
                           v->init_ephemeral, v->prologue, v->prologue_len);
    rsp = vx_noise_new_raw(0, pat, v->resp_static, NULL, v->resp_ephemeral, v->prologue,
                           v->prologue_len);

    /* handshake messages: exact bytes */
    for (; !vx_noise_done(ini); i++) {
        struct vx_noise *w = (i % 2 == 0) ? ini : rsp, *r = (i % 2 == 0) ? rsp : ini;
        const struct vmsg *m = &v->msgs[i];
        assert_true(i < v->nmsgs);
        assert_int_equal(vx_noise_want_write(w), 1);
        assert_int_equal(vx_noise_want_write(r), 0);
        assert_int_equal(vx_noise_write(w, m->payload, m->plen, out, sizeof(out), &outlen), 0);
        assert_int_equal(outlen, m->ctlen);
        assert_memory_equal(out, m->ct, m->ctlen);
        assert_int_equal(vx_noise_read(r, out, outlen, pl, sizeof(pl), &plen), 0);
        assert_int_equal(plen, m->plen);
        assert_memory_equal(pl, m->payload, plen);
    }
    assert_true(vx_noise_done(rsp));
    assert_int_equal(i, pat == VX_NOISE_XX ? 3 : 2);
    assert_int_equal(vx_noise_handshake_hash(ini, hi), 0);
    assert_int_equal(vx_noise_handshake_hash(rsp, hr), 0);
    assert_memory_equal(hi, hr, 64);
    assert_int_equal(vx_noise_remote_pk(ini, out), VX_ERR_INVAL); /* raw mode */

    /* transport messages: Split() and the channel, AD empty */
    assert_int_equal(vx_noise_split(ini, VX_AEAD_CHACHAPOLY, &itx, &irx), 0);
    assert_int_equal(vx_noise_split(rsp, VX_AEAD_CHACHAPOLY, &rtx, &rrx), 0);
    for (; i < v->nmsgs; i++) {
        const struct vmsg *m = &v->msgs[i];
        struct vx_chan *tx = (i % 2 == 0) ? itx : rtx, *rx = (i % 2 == 0) ? rrx : irx;
        memcpy(out, m->payload, m->plen);
        assert_int_equal(vx_chan_seal(tx, out, m->plen, NULL, 0), 0);
        assert_int_equal(m->plen + VX_CHAN_TAG_LEN, m->ctlen);
        assert_memory_equal(out, m->ct, m->ctlen);
        assert_int_equal(vx_chan_open(rx, out, m->ctlen, NULL, 0), 0);
        assert_memory_equal(out, m->payload, m->plen);
    }
    vx_chan_free(itx);
    vx_chan_free(irx);
    vx_chan_free(rtx);
    vx_chan_free(rrx);
    vx_noise_free(ini);
    vx_noise_free(rsp);
}

static void test_vectors(void **state)
{
    FILE *fp = fopen(VECTORS, "r");
    struct vector v;
    int n = 0, seen_xx = 0, seen_ik = 0;

    (void)state;
    assert_non_null(fp);
    while (read_vector(fp, &v)) {
        run_vector(&v);
        seen_xx |= strstr(v.name, "_XX_") != NULL;
        seen_ik |= strstr(v.name, "_IK_") != NULL;
        n++;
    }
    fclose(fp);
    assert_true(seen_xx && seen_ik);
    assert_true(n >= 2);
}

/* ---- handshakes between identities ---- */

struct hs {
    struct vx_noise *ini, *rsp;
    uint8_t msg[3][MSGCAP];
    size_t len[3];
};

static void hs_new(struct hs *h, enum vx_noise_pattern pat, const struct vx_identity *i,
                   const struct vx_identity *r, const uint8_t *ik_remote)
{
    memset(h, 0, sizeof(*h));
    h->ini = vx_noise_new(1, pat, i, pat == VX_NOISE_IK ? ik_remote : NULL, PROLOGUE, PROLOGUE_LEN);
    h->rsp = vx_noise_new(0, pat, r, NULL, PROLOGUE, PROLOGUE_LEN);
}

static void hs_free(struct hs *h)
{
    vx_noise_free(h->ini);
    vx_noise_free(h->rsp);
}

/* Run message k (writer -> reader) with a short payload; returns the read rc. */
static int hs_step(struct hs *h, int k)
{
    struct vx_noise *w = (k % 2 == 0) ? h->ini : h->rsp, *r = (k % 2 == 0) ? h->rsp : h->ini;
    char payload[32];
    uint8_t pl[MSGCAP];
    size_t plen;
    int rc;

    snprintf(payload, sizeof(payload), "payload %d", k);
    assert_int_equal(vx_noise_write(w, (const uint8_t *)payload, strlen(payload), h->msg[k], MSGCAP,
                                    &h->len[k]),
                     0);
    rc = vx_noise_read(r, h->msg[k], h->len[k], pl, sizeof(pl), &plen);
    if (rc == 0) {
        assert_int_equal(plen, strlen(payload));
        assert_memory_equal(pl, payload, plen);
    }
    return rc;
}

static void check_transport(struct vx_noise *ini, struct vx_noise *rsp, enum vx_aead a)
{
    struct vx_chan *itx, *irx, *rtx, *rrx;
    uint8_t buf[64];

    assert_int_equal(vx_noise_split(ini, a, &itx, &irx), 0);
    assert_int_equal(vx_noise_split(rsp, a, &rtx, &rrx), 0);
    assert_int_equal(vx_chan_aead(itx), a);
    for (int i = 0; i < 4; i++) {
        memcpy(buf, "initiator->responder", 20);
        assert_int_equal(vx_chan_seal(itx, buf, 20, NULL, 0), 0);
        assert_int_equal(vx_chan_open(rrx, buf, 36, NULL, 0), 0);
        assert_memory_equal(buf, "initiator->responder", 20);
        memcpy(buf, "responder->initiator", 20);
        assert_int_equal(vx_chan_seal(rtx, buf, 20, NULL, 0), 0);
        assert_int_equal(vx_chan_open(irx, buf, 36, NULL, 0), 0);
        assert_memory_equal(buf, "responder->initiator", 20);
    }
    /* the two directions use different keys */
    memcpy(buf, "wrong way", 9);
    assert_int_equal(vx_chan_seal(itx, buf, 9, NULL, 0), 0);
    assert_int_equal(vx_chan_open(irx, buf, 25, NULL, 0), VX_ERR_CRYPTO);
    /* rekey keeps both ends in step; an un-rekeyed end fails */
    vx_chan_rekey(rtx);
    memcpy(buf, "rekeyed", 7);
    assert_int_equal(vx_chan_seal(rtx, buf, 7, NULL, 0), 0);
    {
        uint8_t copy[23];
        memcpy(copy, buf, 23);
        assert_int_equal(vx_chan_open(irx, copy, 23, NULL, 0), VX_ERR_CRYPTO);
    }
    vx_chan_rekey(irx);
    assert_int_equal(vx_chan_open(irx, buf, 23, NULL, 0), 0);
    assert_memory_equal(buf, "rekeyed", 7);
    vx_chan_free(itx);
    vx_chan_free(irx);
    vx_chan_free(rtx);
    vx_chan_free(rrx);
}

static void full_handshake(enum vx_noise_pattern pat)
{
    struct hs h;
    uint8_t pk[VX_PK_LEN], h1[64], h2[64];
    int nmsgs = pat == VX_NOISE_XX ? 3 : 2;

    hs_new(&h, pat, &id_a, &id_b, id_b.pk);
    assert_int_equal(vx_noise_remote_pk(h.ini, pk), VX_ERR_INVAL); /* not done */
    assert_int_equal(vx_noise_handshake_hash(h.ini, h1), VX_ERR_INVAL);
    for (int k = 0; k < nmsgs; k++) {
        assert_false(vx_noise_done(h.ini));
        assert_int_equal(hs_step(&h, k), 0);
    }
    assert_true(vx_noise_done(h.ini));
    assert_true(vx_noise_done(h.rsp));
    assert_int_equal(vx_noise_want_write(h.ini), 0);
    assert_int_equal(vx_noise_want_write(h.rsp), 0);
    assert_int_equal(vx_noise_remote_pk(h.ini, pk), 0);
    assert_memory_equal(pk, id_b.pk, VX_PK_LEN);
    assert_int_equal(vx_noise_remote_pk(h.rsp, pk), 0);
    assert_memory_equal(pk, id_a.pk, VX_PK_LEN);
    assert_int_equal(vx_noise_handshake_hash(h.ini, h1), 0);
    assert_int_equal(vx_noise_handshake_hash(h.rsp, h2), 0);
    assert_memory_equal(h1, h2, 64);
    /* no more messages once done */
    {
        uint8_t out[MSGCAP], pl[8];
        size_t n;
        assert_int_equal(vx_noise_write(h.ini, NULL, 0, out, sizeof(out), &n), VX_ERR_INVAL);
        assert_int_equal(vx_noise_read(h.rsp, h.msg[0], h.len[0], pl, sizeof(pl), &n),
                         VX_ERR_INVAL);
    }
    check_transport(h.ini, h.rsp, VX_AEAD_CHACHAPOLY);
    if (vx_aead_aesgcm_available())
        check_transport(h.ini, h.rsp, VX_AEAD_AESGCM);
    hs_free(&h);

    /* a second run uses fresh ephemerals: different transcript */
    hs_new(&h, pat, &id_a, &id_b, id_b.pk);
    for (int k = 0; k < nmsgs; k++)
        assert_int_equal(hs_step(&h, k), 0);
    assert_int_equal(vx_noise_handshake_hash(h.ini, h2), 0);
    assert_memory_not_equal(h1, h2, 64);
    hs_free(&h);
}

static void test_xx(void **state)
{
    (void)state;
    full_handshake(VX_NOISE_XX);
}

static void test_ik(void **state)
{
    (void)state;
    full_handshake(VX_NOISE_IK);
}

static void test_message_sizes(void **state)
{
    struct hs h;

    (void)state;
    /* XX: e | e, {s}, {ed||payload} | {s}, {ed||payload} */
    hs_new(&h, VX_NOISE_XX, &id_a, &id_b, NULL);
    for (int k = 0; k < 3; k++)
        assert_int_equal(hs_step(&h, k), 0);
    assert_int_equal(h.len[0], 32 + 9);
    assert_int_equal(h.len[1], 32 + 48 + 32 + 9 + 16);
    assert_int_equal(h.len[2], 48 + 32 + 9 + 16);
    hs_free(&h);
    /* IK: e, {s}, {ed||payload} | e, {payload} */
    hs_new(&h, VX_NOISE_IK, &id_a, &id_b, id_b.pk);
    for (int k = 0; k < 2; k++)
        assert_int_equal(hs_step(&h, k), 0);
    assert_int_equal(h.len[0], 32 + 48 + 32 + 9 + 16);
    assert_int_equal(h.len[1], 32 + 9 + 16);
    hs_free(&h);
}

static void test_ik_wrong_responder(void **state)
{
    struct hs h;

    (void)state;
    /* A believes it talks to C, but B answers: B cannot read message 1 */
    hs_new(&h, VX_NOISE_IK, &id_a, &id_b, id_c.pk);
    assert_int_equal(hs_step(&h, 0), VX_ERR_CRYPTO);
    assert_false(vx_noise_done(h.rsp));
    assert_int_equal(vx_noise_want_write(h.rsp), 0);
    hs_free(&h);

    /* IK initiator without the responder's key is unusable */
    {
        struct vx_noise *n = vx_noise_new(1, VX_NOISE_IK, &id_a, NULL, NULL, 0);
        uint8_t out[MSGCAP];
        size_t len;
        assert_int_equal(vx_noise_want_write(n), 0);
        assert_int_equal(vx_noise_write(n, NULL, 0, out, sizeof(out), &len), VX_ERR_INVAL);
        vx_noise_free(n);
    }
}

static void test_expected_peer(void **state)
{
    struct vx_noise *ini, *rsp;
    uint8_t m[MSGCAP], pl[MSGCAP];
    size_t len, plen;

    (void)state;
    /* XX initiator expecting C, but B answers with a valid proof of B */
    ini = vx_noise_new(1, VX_NOISE_XX, &id_a, id_c.pk, PROLOGUE, PROLOGUE_LEN);
    rsp = vx_noise_new(0, VX_NOISE_XX, &id_b, NULL, PROLOGUE, PROLOGUE_LEN);
    assert_int_equal(vx_noise_write(ini, NULL, 0, m, sizeof(m), &len), 0);
    assert_int_equal(vx_noise_read(rsp, m, len, pl, sizeof(pl), &plen), 0);
    assert_int_equal(vx_noise_write(rsp, NULL, 0, m, sizeof(m), &len), 0);
    assert_int_equal(vx_noise_read(ini, m, len, pl, sizeof(pl), &plen), VX_ERR_PEER_ID);
    vx_noise_free(ini);
    vx_noise_free(rsp);

    /* the same with the right expectation works */
    ini = vx_noise_new(1, VX_NOISE_XX, &id_a, id_b.pk, PROLOGUE, PROLOGUE_LEN);
    rsp = vx_noise_new(0, VX_NOISE_XX, &id_b, NULL, PROLOGUE, PROLOGUE_LEN);
    assert_int_equal(vx_noise_write(ini, NULL, 0, m, sizeof(m), &len), 0);
    assert_int_equal(vx_noise_read(rsp, m, len, pl, sizeof(pl), &plen), 0);
    assert_int_equal(vx_noise_write(rsp, NULL, 0, m, sizeof(m), &len), 0);
    assert_int_equal(vx_noise_read(ini, m, len, pl, sizeof(pl), &plen), 0);
    vx_noise_free(ini);
    vx_noise_free(rsp);
}

static void test_ed25519_mismatch(void **state)
{
    struct vx_identity liar;
    struct hs h;

    (void)state;
    /* liar: B's X25519 static key, but claims A's Ed25519 key */
    liar = id_b;
    memcpy(liar.pk, id_c.pk, VX_PK_LEN);

    hs_new(&h, VX_NOISE_XX, &id_a, &liar, NULL);
    assert_int_equal(hs_step(&h, 0), 0);
    assert_int_equal(hs_step(&h, 1), VX_ERR_PEER_ID);
    assert_false(vx_noise_done(h.ini));
    hs_free(&h);

    hs_new(&h, VX_NOISE_XX, &liar, &id_b, NULL);
    assert_int_equal(hs_step(&h, 0), 0);
    assert_int_equal(hs_step(&h, 1), 0);
    assert_int_equal(hs_step(&h, 2), VX_ERR_PEER_ID);
    hs_free(&h);

    hs_new(&h, VX_NOISE_IK, &liar, &id_a, id_a.pk);
    assert_int_equal(hs_step(&h, 0), VX_ERR_PEER_ID);
    hs_free(&h);
}

/* Run pattern up to message k, then feed a modified copy of it. */
static int feed_modified(enum vx_noise_pattern pat, int k, size_t flip, size_t trunc)
{
    struct hs h;
    uint8_t pl[MSGCAP];
    size_t plen;
    int rc;

    hs_new(&h, pat, &id_a, &id_b, id_b.pk);
    for (int j = 0; j < k; j++)
        assert_int_equal(hs_step(&h, j), 0);
    {
        struct vx_noise *w = (k % 2 == 0) ? h.ini : h.rsp, *r = (k % 2 == 0) ? h.rsp : h.ini;
        assert_int_equal(
                vx_noise_write(w, (const uint8_t *)"hello", 5, h.msg[k], MSGCAP, &h.len[k]), 0);
        if (flip != SIZE_MAX)
            h.msg[k][flip / 8] ^= (uint8_t)(1u << (flip % 8));
        rc = vx_noise_read(r, h.msg[k], trunc != SIZE_MAX ? trunc : h.len[k], pl, sizeof(pl),
                           &plen);
        /* the reader is dead after a failure */
        if (rc < 0) {
            assert_false(vx_noise_done(r));
            assert_int_equal(vx_noise_want_write(r), 0);
        }
    }
    /* A tampered XX message 1 (cleartext e and payload) is only caught at
     * the next step: finish the handshake and see where it breaks. */
    if (rc == 0) {
        for (int j = k + 1; j < (pat == VX_NOISE_XX ? 3 : 2) && rc == 0; j++) {
            struct vx_noise *w = (j % 2 == 0) ? h.ini : h.rsp;
            size_t n;
            rc = vx_noise_write(w, NULL, 0, h.msg[j], MSGCAP, &n);
            if (rc == 0) {
                struct vx_noise *r = (j % 2 == 0) ? h.rsp : h.ini;
                rc = vx_noise_read(r, h.msg[j], n, pl, sizeof(pl), &plen);
            }
        }
    }
    hs_free(&h);
    return rc;
}

static void test_tampered(void **state)
{
    static const struct {
        enum vx_noise_pattern pat;
        int k;
        size_t len;
    } cases[] = {
            {VX_NOISE_XX, 0, 32 + 5},           {VX_NOISE_XX, 1, 32 + 48 + 32 + 5 + 16},
            {VX_NOISE_XX, 2, 48 + 32 + 5 + 16}, {VX_NOISE_IK, 0, 32 + 48 + 32 + 5 + 16},
            {VX_NOISE_IK, 1, 32 + 5 + 16},
    };

    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        /* one bit in every byte (a different bit each time) */
        for (size_t i = 0; i < cases[c].len; i++) {
            int rc = feed_modified(cases[c].pat, cases[c].k, i * 8 + (i % 8), SIZE_MAX);
            if (cases[c].pat == VX_NOISE_XX && cases[c].k == 0 && i >= 32) {
                /* XX message 1's payload is cleartext but hashed: the
                 * responder's reply then fails to decrypt */
                assert_int_equal(rc, VX_ERR_CRYPTO);
            } else {
                assert_true(rc == VX_ERR_CRYPTO || rc == VX_ERR_PEER_ID);
            }
        }
        /* truncated at every length */
        for (size_t t = 0; t < cases[c].len; t++) {
            int rc = feed_modified(cases[c].pat, cases[c].k, SIZE_MAX, t);
            assert_true(rc == VX_ERR_TRUNC || rc == VX_ERR_CRYPTO);
            if (t < 32)
                assert_int_equal(rc, VX_ERR_TRUNC);
        }
    }
}

static void test_replay_reorder(void **state)
{
    struct hs h1, h2;
    uint8_t pl[MSGCAP], out[MSGCAP];
    size_t plen, n;

    (void)state;
    /* replay of a message within a handshake: out of turn */
    hs_new(&h1, VX_NOISE_XX, &id_a, &id_b, NULL);
    assert_int_equal(hs_step(&h1, 0), 0);
    assert_int_equal(vx_noise_read(h1.rsp, h1.msg[0], h1.len[0], pl, sizeof(pl), &plen),
                     VX_ERR_INVAL);
    /* writing out of turn */
    assert_int_equal(vx_noise_write(h1.ini, NULL, 0, out, sizeof(out), &n), VX_ERR_INVAL);
    assert_int_equal(hs_step(&h1, 1), 0);
    assert_int_equal(hs_step(&h1, 2), 0);

    /* replay of messages from an old session into a new one */
    hs_new(&h2, VX_NOISE_XX, &id_a, &id_b, NULL);
    assert_int_equal(vx_noise_write(h2.ini, NULL, 0, out, sizeof(out), &n), 0);
    assert_int_equal(vx_noise_read(h2.rsp, out, n, pl, sizeof(pl), &plen), 0);
    assert_int_equal(vx_noise_write(h2.rsp, NULL, 0, out, sizeof(out), &n), 0);
    /* initiator gets session 1's message 2 instead of session 2's */
    assert_int_equal(vx_noise_read(h2.ini, h1.msg[1], h1.len[1], pl, sizeof(pl), &plen),
                     VX_ERR_CRYPTO);
    hs_free(&h2);

    /* the responder replayed a whole old initiator flight (IK message 1
     * replay yields a fresh-looking session but message 3 of XX cannot be
     * replayed into a new responder) */
    hs_new(&h2, VX_NOISE_XX, &id_a, &id_b, NULL);
    assert_int_equal(vx_noise_read(h2.rsp, h1.msg[0], h1.len[0], pl, sizeof(pl), &plen), 0);
    assert_int_equal(vx_noise_write(h2.rsp, NULL, 0, out, sizeof(out), &n), 0);
    assert_int_equal(vx_noise_read(h2.rsp, h1.msg[2], h1.len[2], pl, sizeof(pl), &plen),
                     VX_ERR_CRYPTO);
    hs_free(&h2);
    hs_free(&h1);

    /* reordered: the responder receives message 3 before message 1 */
    hs_new(&h1, VX_NOISE_IK, &id_a, &id_b, id_b.pk);
    assert_int_equal(hs_step(&h1, 0), 0);
    assert_int_equal(hs_step(&h1, 1), 0);
    hs_free(&h1);
    hs_new(&h1, VX_NOISE_XX, &id_a, &id_b, NULL);
    hs_new(&h2, VX_NOISE_XX, &id_a, &id_b, NULL);
    for (int k = 0; k < 3; k++)
        assert_int_equal(hs_step(&h2, k), 0);
    /* message 3 parses as an XX message 1 (e + cleartext payload), so the
     * failure shows when the initiator reads the reply */
    assert_int_equal(vx_noise_write(h1.ini, NULL, 0, out, sizeof(out), &n), 0);
    assert_int_equal(vx_noise_read(h1.rsp, h2.msg[2], h2.len[2], pl, sizeof(pl), &plen), 0);
    assert_int_equal(vx_noise_write(h1.rsp, NULL, 0, out, sizeof(out), &n), 0);
    assert_int_equal(vx_noise_read(h1.ini, out, n, pl, sizeof(pl), &plen), VX_ERR_CRYPTO);
    hs_free(&h1);
    hs_free(&h2);
}

static void test_limits(void **state)
{
    struct vx_noise *ini, *rsp;
    uint8_t *big = calloc(1, VX_NOISE_MAX_MSG + 2), *pl = calloc(1, VX_NOISE_MAX_MSG);
    size_t n, plen;

    (void)state;
    ini = vx_noise_new(1, VX_NOISE_XX, &id_a, NULL, NULL, 0);
    rsp = vx_noise_new(0, VX_NOISE_XX, &id_b, NULL, NULL, 0);
    /* payload too big for a 65535-byte message */
    assert_int_equal(vx_noise_write(ini, big, VX_NOISE_MAX_MSG - 31, big, VX_NOISE_MAX_MSG + 2, &n),
                     VX_ERR_TOOBIG);
    assert_int_equal(vx_noise_write(ini, big, SIZE_MAX - 8, big, VX_NOISE_MAX_MSG + 2, &n),
                     VX_ERR_TOOBIG);
    /* output buffer too small: nothing happens, a retry works */
    assert_int_equal(vx_noise_write(ini, (const uint8_t *)"x", 1, big, 32, &n), VX_ERR_TOOBIG);
    assert_int_equal(vx_noise_want_write(ini), 1);
    /* largest message */
    assert_int_equal(vx_noise_write(ini, pl, VX_NOISE_MAX_MSG - 32, big, VX_NOISE_MAX_MSG, &n), 0);
    assert_int_equal(n, VX_NOISE_MAX_MSG);
    /* payload buffer too small: nothing consumed, a retry works */
    assert_int_equal(vx_noise_read(rsp, big, n, pl, 100, &plen), VX_ERR_TOOBIG);
    assert_int_equal(vx_noise_read(rsp, big, n, pl, VX_NOISE_MAX_MSG, &plen), 0);
    assert_int_equal(plen, VX_NOISE_MAX_MSG - 32);
    vx_noise_free(ini);
    vx_noise_free(rsp);

    /* an oversized message is refused */
    rsp = vx_noise_new(0, VX_NOISE_XX, &id_b, NULL, NULL, 0);
    assert_int_equal(vx_noise_read(rsp, big, VX_NOISE_MAX_MSG + 1, pl, VX_NOISE_MAX_MSG, &plen),
                     VX_ERR_TOOBIG);
    vx_noise_free(rsp);

    /* a low-order ephemeral key is refused where it is used */
    rsp = vx_noise_new(0, VX_NOISE_IK, &id_b, NULL, NULL, 0);
    memset(big, 0, 32 + 48 + 32 + 16);
    assert_int_equal(vx_noise_read(rsp, big, 32 + 48 + 32 + 16, pl, 100, &plen), VX_ERR_CRYPTO);
    vx_noise_free(rsp);
    rsp = vx_noise_new(0, VX_NOISE_XX, &id_b, NULL, NULL, 0);
    assert_int_equal(vx_noise_read(rsp, big, 32, pl, 100, &plen), 0);
    assert_int_equal(vx_noise_write(rsp, NULL, 0, big, VX_NOISE_MAX_MSG, &n), VX_ERR_CRYPTO);
    vx_noise_free(rsp);

    /* bad pattern; split before done */
    rsp = vx_noise_new(0, (enum vx_noise_pattern)7, &id_b, NULL, NULL, 0);
    assert_int_equal(vx_noise_want_write(rsp), 0);
    assert_int_equal(vx_noise_read(rsp, big, 32, pl, 100, &plen), VX_ERR_INVAL);
    vx_noise_free(rsp);
    {
        struct vx_chan *tx, *rx;
        ini = vx_noise_new(1, VX_NOISE_XX, &id_a, NULL, NULL, 0);
        assert_int_equal(vx_noise_split(ini, VX_AEAD_CHACHAPOLY, &tx, &rx), VX_ERR_INVAL);
        vx_noise_free(ini);
    }
    vx_noise_free(NULL);
    free(big);
    free(pl);
}

static void test_prologue_mismatch(void **state)
{
    struct vx_noise *ini, *rsp;
    uint8_t m[MSGCAP], pl[MSGCAP];
    size_t len, plen;

    (void)state;
    ini = vx_noise_new(1, VX_NOISE_IK, &id_a, id_b.pk, (const uint8_t *)"VX6 session v1", 14);
    rsp = vx_noise_new(0, VX_NOISE_IK, &id_b, NULL, (const uint8_t *)"VX6 session v2", 14);
    assert_int_equal(vx_noise_write(ini, NULL, 0, m, sizeof(m), &len), 0);
    assert_int_equal(vx_noise_read(rsp, m, len, pl, sizeof(pl), &plen), VX_ERR_CRYPTO);
    vx_noise_free(ini);
    vx_noise_free(rsp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_xx),
            cmocka_unit_test(test_ik),
            cmocka_unit_test(test_message_sizes),
            cmocka_unit_test(test_ik_wrong_responder),
            cmocka_unit_test(test_expected_peer),
            cmocka_unit_test(test_ed25519_mismatch),
            cmocka_unit_test(test_tampered),
            cmocka_unit_test(test_replay_reorder),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_prologue_mismatch),
    };
    vx_log_set_level(VX_LOG_NONE);
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, NULL);
}
