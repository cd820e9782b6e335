/* test_record.c — record encodings (vectors computed independently by
 * tests/tools/record_vectors.py), verification and the replacement rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "wire/record.h"
#include "testutil.h"

#define ISSUED  1700000000ull
#define EXPIRES 1700003600ull
#define NOW     (ISSUED + 10)

static const char NODE_HEX[] =
        "01010000000000000001000000006553f100000000006553ff1003a107bff3ce10be1d70dd18e74bc09967e4d6"
        "309ba50d5f1ddc8664125531b89d24e2eeaf27c2a088a564a32fc03a882dcd9804dbc0d03a119491e54ba0c933"
        "020620010db800000000000000000000000110920304c00002011092015ecca21d27590c2bba1800c79edab3c1"
        "ba13b8da1d550ad93486dd904fafd7e7b198dc664cb96229267d1dd80276f10fb262b8ea6b0095cd9641f295de"
        "0dbe08";
static const char SERVICE_HEX[] =
        "01020000000000000007000000006553f100000000006553ff1003a107bff3ce10be1d70dd18e74bc09967e4d6"
        "309ba50d5f1ddc8664125531b805616c696365037765629d24e2eeaf27c2a088a564a32fc03a882dcd9804dbc0"
        "d03a119491e54ba0c9330000000002005001bbfb06285ee37a4ba617562647034cec011dfc3eb0c24f1842e33f"
        "f142ddaaa5e8d3f19b78fcd15bf9a6583653daf5fd7a504b1d2b4e8544f654207cda68a64e0e";
static const char USER_HEX[] =
        "01030000000000000003000000006553f100000000006553ff1003a107bff3ce10be1d70dd18e74bc09967e4d6"
        "309ba50d5f1ddc8664125531b805616c696365888ddf55c53bb04bdf83aeb5c237dd68dac1db271a30addb2d61"
        "63270aac082e795a1835ce5e385ccd5258959f1afa10d80785a36df27dd25c41aa8f17ff310d";
/* alice.web, seq 8, flags ANYPORT | RELAY, no ports */
static const char SERVICE_RELAY_HEX[] =
        "01020000000000000008000000006553f100000000006553ff1003a107bff3ce10be1d70dd18e74bc09967e4d6"
        "309ba50d5f1ddc8664125531b805616c696365037765629d24e2eeaf27c2a088a564a32fc03a882dcd9804dbc0"
        "d03a119491e54ba0c9330000000300c6fda66cf174ba7eb148bcb07bfc745cd98376399a35c5bc9f378cf4c215"
        "150b64ac07feca61fbb1ccee0ac819eb58b35a027839afcfc8ab6ed783128746c30e";
static const char SVC_KEY_HEX[] =
        "d2f64981d096d2c2752f993a62355750dbbb59a9cc62571a4bdccf61d75076b6";
static const char USER_KEY_HEX[] =
        "409dd56f639748dcf4a243ba0abc7651820dcf77e9c8621f549b86ddb664ee45";

static void test_identity(struct vx_identity *id)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void build_node(struct vx_record *r, const struct vx_identity *id)
{
    struct vx_endpoint e6 = {.family = 6, .transports = 3, .port = 4242};
    struct vx_endpoint e4 = {.family = 4, .transports = 1, .port = 4242};
    static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t a4[4] = {192, 0, 2, 1};
    memcpy(e6.addr, a6, 16);
    memcpy(e4.addr, a4, 4);
    vx_record_init_node(r, 1, ISSUED, EXPIRES);
    assert_int_equal(vx_record_add_endpoint(r, &e6), 0);
    assert_int_equal(vx_record_add_endpoint(r, &e4), 0);
    assert_int_equal(vx_record_sign(r, id), 0);
}

static void build_service(struct vx_record *r, const struct vx_identity *id)
{
    assert_int_equal(vx_record_init_service(r, "alice", "web", 7, ISSUED, EXPIRES), 0);
    r->u.service.n_ports = 2;
    r->u.service.ports[0] = 80;
    r->u.service.ports[1] = 443;
    assert_int_equal(vx_record_sign(r, id), 0);
}

static void build_user(struct vx_record *r, const struct vx_identity *id)
{
    assert_int_equal(vx_record_init_username(r, "alice", 3, ISSUED, EXPIRES), 0);
    assert_int_equal(vx_record_sign(r, id), 0);
}

static void check_vector(const struct vx_record *r, const char *hex)
{
    uint8_t want[VX_RECORD_MAX], got[VX_RECORD_MAX], again[VX_RECORD_MAX];
    size_t wn = tu_unhex(hex, want, sizeof(want));
    struct vx_record back;
    int n = vx_record_encode(r, got, sizeof(got));

    assert_int_equal(n, (int)wn);
    assert_memory_equal(got, want, wn);
    assert_int_equal(vx_record_parse(&back, want, wn, NOW), 0);
    assert_int_equal(vx_record_encode(&back, again, sizeof(again)), (int)wn);
    assert_memory_equal(again, want, wn);
    /* A cap one byte short is refused. */
    assert_int_equal(vx_record_encode(r, got, wn - 1), VX_ERR_TOOBIG);
}

static void test_vectors(void **state)
{
    struct vx_identity id;
    struct vx_record r;
    uint8_t key[32], want[32];
    (void)state;
    test_identity(&id);

    build_node(&r, &id);
    check_vector(&r, NODE_HEX);
    vx_record_key(&r, key);
    assert_memory_equal(key, id.node_id, 32);

    build_service(&r, &id);
    check_vector(&r, SERVICE_HEX);
    vx_record_key(&r, key);
    tu_unhex(SVC_KEY_HEX, want, sizeof(want));
    assert_memory_equal(key, want, 32);
    assert_int_equal(vx_service_key("alice", "web", key), 0);
    assert_memory_equal(key, want, 32);

    /* the route bits: relay-only round-trips; relay and direct at once is
     * refused by both the encoder and the parser */
    assert_int_equal(vx_record_init_service(&r, "alice", "web", 8, ISSUED, EXPIRES), 0);
    r.u.service.flags = VX_SERVICE_F_ANYPORT | VX_SERVICE_F_RELAY;
    assert_int_equal(vx_record_sign(&r, &id), 0);
    check_vector(&r, SERVICE_RELAY_HEX);
    {
        struct vx_record back;
        uint8_t buf[VX_RECORD_MAX];
        size_t n = tu_unhex(SERVICE_RELAY_HEX, buf, sizeof(buf));
        assert_int_equal(vx_record_parse(&back, buf, n, NOW), 0);
        assert_int_equal(back.u.service.flags, VX_SERVICE_F_ANYPORT | VX_SERVICE_F_RELAY);
        r.u.service.flags |= VX_SERVICE_F_DIRECT;
        assert_int_equal(vx_record_sign(&r, &id), VX_ERR_INVAL);
        /* set DIRECT on the wire too (the flags' last byte comes before the
         * port count and the signature): the decoder refuses the fields */
        buf[n - 64 - 2] |= VX_SERVICE_F_DIRECT;
        assert_int_equal(vx_record_decode(&back, buf, n), VX_ERR_INVAL);
    }

    build_user(&r, &id);
    check_vector(&r, USER_HEX);
    vx_record_key(&r, key);
    tu_unhex(USER_KEY_HEX, want, sizeof(want));
    assert_memory_equal(key, want, 32);
    assert_int_equal(vx_username_key("alice", key), 0);
    assert_memory_equal(key, want, 32);
}

static void test_tampered(void **state)
{
    const char *vecs[] = {NODE_HEX, SERVICE_HEX, USER_HEX};
    uint8_t buf[VX_RECORD_MAX];
    struct vx_record r;
    (void)state;
    for (int v = 0; v < 3; v++) {
        size_t n = tu_unhex(vecs[v], buf, sizeof(buf));
        /* Flip every bit position of every byte: never a valid record. */
        for (size_t i = 0; i < n; i++) {
            for (int b = 0; b < 8; b++) {
                buf[i] ^= (uint8_t)(1u << b);
                assert_int_not_equal(vx_record_parse(&r, buf, n, NOW), 0);
                buf[i] ^= (uint8_t)(1u << b);
            }
        }
        assert_int_equal(vx_record_parse(&r, buf, n, NOW), 0);
        /* Truncated and extended. */
        for (size_t k = 0; k < n; k++)
            assert_int_not_equal(vx_record_parse(&r, buf, k, NOW), 0);
        buf[n] = 0;
        assert_int_not_equal(vx_record_parse(&r, buf, n + 1, NOW), 0);
    }
    /* Specific failure classes. */
    size_t n = tu_unhex(USER_HEX, buf, sizeof(buf));
    buf[n - 1] ^= 1;
    assert_int_equal(vx_record_parse(&r, buf, n, NOW), VX_ERR_BADSIG);
    n = tu_unhex(USER_HEX, buf, sizeof(buf));
    buf[0] = 2;
    assert_int_equal(vx_record_parse(&r, buf, n, NOW), VX_ERR_VERSION);
}

static void test_identity_binding(void **state)
{
    struct vx_identity id, other;
    struct vx_record r;
    uint8_t enc[VX_RECORD_MAX], msg[VX_RECORD_MAX + 16];
    uint8_t seed[32];
    (void)state;
    test_identity(&id);
    memset(seed, 7, sizeof(seed));
    assert_int_equal(vx_identity_from_seed(&other, seed), 0);

    /* A NODE record whose node ID is not hash(pk), correctly signed. */
    build_node(&r, &id);
    memcpy(r.u.node.node_id, other.node_id, 32);
    int n = vx_record_encode(&r, enc, sizeof(enc));
    assert_true(n > 0);
    memcpy(msg, "vx6 record v1", 13);
    memcpy(msg + 13, enc, (size_t)n - 64);
    assert_int_equal(vx_sign(&id, msg, 13 + (size_t)n - 64, r.sig), 0);
    assert_int_equal(vx_record_verify(&r, NOW), VX_ERR_PEER_ID);

    /* A SERVICE record pointing at another node, signed by us. */
    build_service(&r, &id);
    memcpy(r.u.service.node_id, other.node_id, 32);
    n = vx_record_encode(&r, enc, sizeof(enc));
    memcpy(msg + 13, enc, (size_t)n - 64);
    assert_int_equal(vx_sign(&id, msg, 13 + (size_t)n - 64, r.sig), 0);
    assert_int_equal(vx_record_verify(&r, NOW), VX_ERR_PEER_ID);

    /* A USERNAME record with the signer key swapped: bad signature. */
    build_user(&r, &id);
    memcpy(r.signer, other.pk, 32);
    assert_int_equal(vx_record_verify(&r, NOW), VX_ERR_BADSIG);
}

static void test_times(void **state)
{
    struct vx_identity id;
    struct vx_record r;
    (void)state;
    test_identity(&id);
    build_user(&r, &id);
    assert_int_equal(vx_record_verify(&r, EXPIRES - 1), 0);
    assert_int_equal(vx_record_verify(&r, EXPIRES), VX_ERR_EXPIRED);
    assert_int_equal(vx_record_verify(&r, EXPIRES + 100000), VX_ERR_EXPIRED);
    /* Issued up to 5 minutes ahead of our clock is tolerated, not more. */
    assert_int_equal(vx_record_verify(&r, ISSUED - 300), 0);
    assert_int_equal(vx_record_verify(&r, ISSUED - 301), VX_ERR_INVAL);
    /* Expiry before issue, or a lifetime over 7 days. */
    assert_int_equal(vx_record_init_username(&r, "alice", 1, ISSUED, ISSUED - 1), 0);
    assert_int_equal(vx_record_sign(&r, &id), 0);
    assert_int_equal(vx_record_verify(&r, ISSUED - 10), VX_ERR_INVAL);
    assert_int_equal(vx_record_init_username(&r, "alice", 1, ISSUED, ISSUED + 8 * 86400), 0);
    assert_int_equal(vx_record_sign(&r, &id), 0);
    assert_int_equal(vx_record_verify(&r, NOW), VX_ERR_INVAL);
}

static void test_replace(void **state)
{
    struct vx_identity id, other;
    struct vx_record a, b, c;
    uint8_t seed[32];
    (void)state;
    test_identity(&id);
    memset(seed, 9, sizeof(seed));
    assert_int_equal(vx_identity_from_seed(&other, seed), 0);

    build_service(&a, &id); /* seq 7 */
    b = a;
    assert_int_equal(vx_record_replaces(&b, &a, NOW), VX_ERR_STALE); /* replay */
    b.seq = 6;
    assert_int_equal(vx_record_sign(&b, &id), 0);
    assert_int_equal(vx_record_replaces(&b, &a, NOW), VX_ERR_STALE);
    b.seq = 8;
    assert_int_equal(vx_record_sign(&b, &id), 0);
    assert_int_equal(vx_record_replaces(&b, &a, NOW), 0);
    /* Someone else's record for the same name: refused until ours expires. */
    c = a;
    c.seq = 100;
    assert_int_equal(vx_record_sign(&c, &other), 0);
    assert_int_equal(vx_record_replaces(&c, &a, NOW), VX_ERR_KEYCHANGED);
    assert_int_equal(vx_record_replaces(&c, &a, EXPIRES), 0);
    /* Different keys entirely. */
    build_user(&c, &id);
    assert_int_equal(vx_record_replaces(&c, &a, NOW), VX_ERR_INVAL);
}

static void test_limits(void **state)
{
    struct vx_identity id;
    struct vx_record r;
    struct vx_endpoint ep = {.family = 6, .transports = 1, .port = 1};
    char big[80];
    uint8_t buf[2048];
    (void)state;
    test_identity(&id);

    memset(big, 'a', sizeof(big));
    big[64] = 0;
    assert_int_equal(vx_record_init_username(&r, big, 1, ISSUED, EXPIRES), VX_ERR_TOOBIG);
    big[63] = 0;
    assert_int_equal(vx_record_init_username(&r, big, 1, ISSUED, EXPIRES), 0);
    assert_int_equal(vx_record_init_username(&r, "Alice", 1, ISSUED, EXPIRES), VX_ERR_BADADDR);
    assert_int_equal(vx_record_init_username(&r, "-a", 1, ISSUED, EXPIRES), VX_ERR_BADADDR);
    assert_int_equal(vx_record_init_service(&r, "a", "", 1, ISSUED, EXPIRES), VX_ERR_BADADDR);

    vx_record_init_node(&r, 1, ISSUED, EXPIRES);
    for (int i = 0; i < 8; i++)
        assert_int_equal(vx_record_add_endpoint(&r, &ep), 0);
    assert_int_equal(vx_record_add_endpoint(&r, &ep), VX_ERR_TOOBIG);
    ep.transports = 4;
    r.u.node.n_endpoints = 0;
    assert_int_equal(vx_record_add_endpoint(&r, &ep), VX_ERR_INVAL);

    /* An encoded NODE record claiming 9 endpoints. */
    size_t n = tu_unhex(NODE_HEX, buf, sizeof(buf));
    buf[1 + 1 + 24 + 32 + 32] = 9;
    assert_int_equal(vx_record_decode(&r, buf, n), VX_ERR_TOOBIG);
    /* A label length of 64 in a USERNAME record. */
    n = tu_unhex(USER_HEX, buf, sizeof(buf));
    buf[1 + 1 + 24 + 32] = 64;
    assert_int_equal(vx_record_decode(&r, buf, n), VX_ERR_TOOBIG);
    /* Anything over 1200 bytes. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(vx_record_decode(&r, buf, VX_RECORD_MAX + 1), VX_ERR_TOOBIG);
    /* The biggest possible SERVICE record fits. */
    big[63] = 0;
    assert_int_equal(vx_record_init_service(&r, big, big, 1, ISSUED, EXPIRES), 0);
    r.u.service.n_ports = VX_RECORD_MAX_PORTS;
    for (int i = 0; i < VX_RECORD_MAX_PORTS; i++)
        r.u.service.ports[i] = (uint16_t)(i + 1);
    assert_int_equal(vx_record_sign(&r, &id), 0);
    int len = vx_record_encode(&r, buf, sizeof(buf));
    assert_true(len > 0 && len <= VX_RECORD_MAX);
    assert_int_equal(vx_record_parse(&r, buf, (size_t)len, NOW), 0);
    r.u.service.n_ports = VX_RECORD_MAX_PORTS + 1;
    assert_int_equal(vx_record_encode(&r, buf, sizeof(buf)), VX_ERR_TOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),          cmocka_unit_test(test_tampered),
            cmocka_unit_test(test_identity_binding), cmocka_unit_test(test_times),
            cmocka_unit_test(test_replace),          cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
