/* test_wire.c — cursor and session message encode/decode: hex vectors and
 * rejection of truncated, oversized and unknown input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/err.h"
#include "wire/cursor.h"
#include "wire/frame.h"
#include "testutil.h"

static void test_cursor(void **state)
{
    uint8_t buf[16];
    struct vx_wcur w;
    vx_wcur_init(&w, buf, 15);
    assert_int_equal(vx_wcur_u8(&w, 0xab), 0);
    assert_int_equal(vx_wcur_u16(&w, 0x1234), 0);
    assert_int_equal(vx_wcur_u32(&w, 0xdeadbeef), 0);
    assert_int_equal(vx_wcur_u64(&w, 0x0102030405060708ull), 0);
    assert_int_equal(w.off, 15);
    assert_int_equal(vx_wcur_u8(&w, 1), VX_ERR_TOOBIG);
    assert_int_equal(vx_wcur_bytes(&w, "", 0), VX_ERR_TOOBIG); /* sticky */

    uint8_t expect[15];
    tu_unhex("ab 1234 deadbeef 0102030405060708", expect, sizeof(expect));
    assert_memory_equal(buf, expect, 15);

    struct vx_rcur r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    vx_rcur_init(&r, buf, 15);
    assert_int_equal(vx_rcur_u8(&r, &u8), 0);
    assert_int_equal(vx_rcur_u16(&r, &u16), 0);
    assert_int_equal(vx_rcur_u32(&r, &u32), 0);
    assert_int_equal(vx_rcur_left(&r), 8);
    assert_int_equal(vx_rcur_u64(&r, &u64), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(u32, 0xdeadbeef);
    assert_true(u64 == 0x0102030405060708ull);
    assert_int_equal(vx_rcur_u8(&r, &u8), VX_ERR_TRUNC);
    assert_int_equal(vx_rcur_left(&r), 0);

    /* A failed read consumes nothing and sticks. */
    vx_rcur_init(&r, buf, 3);
    assert_int_equal(vx_rcur_u32(&r, &u32), VX_ERR_TRUNC);
    assert_int_equal(vx_rcur_u8(&r, &u8), VX_ERR_TRUNC);
    const uint8_t *p;
    vx_rcur_init(&r, buf, 3);
    assert_int_equal(vx_rcur_ptr(&r, &p, 3), 0);
    assert_ptr_equal(p, buf);
    assert_int_equal(vx_rcur_ptr(&r, &p, 1), VX_ERR_TRUNC);
    vx_rcur_init(&r, NULL, 10);
    assert_int_equal(vx_rcur_u8(&r, &u8), VX_ERR_TRUNC);
}

/* vx_*cur_fail poisons a healthy cursor; the first error is kept. */
static void test_cursor_fail(void **state)
{
    uint8_t buf[4] = {1, 2, 3, 4}, u8 = 0;
    uint16_t u16 = 0;
    struct vx_rcur r;
    struct vx_wcur w;
    (void)state;

    vx_rcur_init(&r, buf, sizeof(buf));
    assert_int_equal(vx_rcur_fail(&r, VX_ERR_CORRUPT), VX_ERR_CORRUPT);
    assert_int_equal(vx_rcur_u8(&r, &u8), VX_ERR_CORRUPT);
    assert_int_equal(u8, 0);
    assert_int_equal(vx_rcur_left(&r), 0);
    assert_int_equal(vx_rcur_fail(&r, VX_ERR_INVAL), VX_ERR_CORRUPT);
    vx_rcur_init(&r, buf, 1);
    assert_int_equal(vx_rcur_u16(&r, &u16), VX_ERR_TRUNC);
    assert_int_equal(vx_rcur_fail(&r, VX_ERR_CORRUPT), VX_ERR_TRUNC);

    vx_wcur_init(&w, buf, sizeof(buf));
    assert_int_equal(vx_wcur_fail(&w, VX_ERR_INVAL), VX_ERR_INVAL);
    assert_int_equal(vx_wcur_u8(&w, 9), VX_ERR_INVAL);
    assert_int_equal(w.off, 0);
    assert_int_equal(buf[0], 1);
    vx_wcur_init(&w, buf, 1);
    assert_int_equal(vx_wcur_u16(&w, 7), VX_ERR_TOOBIG);
    assert_int_equal(vx_wcur_fail(&w, VX_ERR_INVAL), VX_ERR_TOOBIG);
}

static void test_be64(void **state)
{
    uint8_t b[8], expect[8];
    (void)state;
    vx_be64_put(b, 0x0102030405060708ull);
    tu_unhex("0102030405060708", expect, sizeof(expect));
    assert_memory_equal(b, expect, 8);
    assert_true(vx_be64_get(b) == 0x0102030405060708ull);
    memset(b, 0xff, sizeof(b));
    assert_true(vx_be64_get(b) == UINT64_MAX);
}

static void test_hs_headers(void **state)
{
    uint8_t out[4], exp[4];
    uint8_t pat = 0;
    size_t len = 0;

    assert_int_equal(vx_wire_hs_first_encode(out, VX_HS_XX, 32), 0);
    tu_unhex("01 01 0020", exp, 4);
    assert_memory_equal(out, exp, 4);
    assert_int_equal(vx_wire_hs_first_decode(exp, 4, &pat, &len), 0);
    assert_int_equal(pat, VX_HS_XX);
    assert_int_equal(len, 32);

    assert_int_equal(vx_wire_hs_first_encode(out, VX_HS_IK, 65535), 0);
    tu_unhex("01 02 ffff", exp, 4);
    assert_memory_equal(out, exp, 4);

    assert_int_equal(vx_wire_hs_first_encode(out, VX_HS_XX, 0), VX_ERR_TOOBIG);
    assert_int_equal(vx_wire_hs_first_encode(out, VX_HS_XX, 65536), VX_ERR_TOOBIG);
    for (size_t n = 0; n < 4; n++)
        assert_int_equal(vx_wire_hs_first_decode(exp, n, &pat, &len),
                         n == 0 ? VX_ERR_TRUNC : VX_ERR_TRUNC);
    tu_unhex("02 01 0020", exp, 4);
    assert_int_equal(vx_wire_hs_first_decode(exp, 1, &pat, &len), VX_ERR_VERSION);
    tu_unhex("16 03 01 00", exp, 4); /* a TLS ClientHello is not us */
    assert_int_equal(vx_wire_hs_first_decode(exp, 4, &pat, &len), VX_ERR_VERSION);
    tu_unhex("01 03 0020", exp, 4);
    assert_int_equal(vx_wire_hs_first_decode(exp, 4, &pat, &len), VX_ERR_PROTO);
    tu_unhex("01 01 0000", exp, 4);
    assert_int_equal(vx_wire_hs_first_decode(exp, 4, &pat, &len), VX_ERR_PROTO);

    assert_int_equal(vx_wire_hs_encode(out, 48), 0);
    tu_unhex("0030", exp, 2);
    assert_memory_equal(out, exp, 2);
    assert_int_equal(vx_wire_hs_decode(exp, 2, &len), 0);
    assert_int_equal(len, 48);
    assert_int_equal(vx_wire_hs_decode(exp, 1, &len), VX_ERR_TRUNC);
    tu_unhex("0000", exp, 2);
    assert_int_equal(vx_wire_hs_decode(exp, 2, &len), VX_ERR_PROTO);
}

static void test_hello(void **state)
{
    struct vx_wire_hello h = {.n_aead = 2,
                              .aead = {2, 1},
                              .stream_window = 0x100000,
                              .session_window = 0x1000000,
                              .max_streams = 1024};
    struct vx_wire_hello d;
    uint8_t out[VX_HELLO_MAX_LEN + 1], exp[32];
    size_t n, elen = tu_unhex("01 02 02 01 00100000 01000000 00000400", exp, sizeof(exp));

    assert_int_equal(vx_wire_hello_encode(&h, out, sizeof(out), &n), 0);
    assert_int_equal(n, elen);
    assert_memory_equal(out, exp, n);
    assert_int_equal(vx_wire_hello_decode(exp, elen, &d), 0);
    assert_int_equal(d.n_aead, 2);
    assert_int_equal(d.aead[0], 2);
    assert_int_equal(d.aead[1], 1);
    assert_int_equal(d.stream_window, 0x100000);
    assert_int_equal(d.session_window, 0x1000000);
    assert_int_equal(d.max_streams, 1024);

    for (size_t i = 0; i < elen; i++)
        assert_int_equal(vx_wire_hello_decode(exp, i, &d), VX_ERR_TRUNC);
    exp[elen] = 0;
    assert_int_equal(vx_wire_hello_decode(exp, elen + 1, &d), VX_ERR_PROTO); /* trailing */
    assert_int_equal(vx_wire_hello_encode(&h, out, elen - 1, &n), VX_ERR_TOOBIG);
    h.n_aead = 0;
    assert_int_equal(vx_wire_hello_encode(&h, out, sizeof(out), &n), VX_ERR_INVAL);
    h.n_aead = 5;
    assert_int_equal(vx_wire_hello_encode(&h, out, sizeof(out), &n), VX_ERR_INVAL);
    tu_unhex("01 00", exp, 2);
    assert_int_equal(vx_wire_hello_decode(exp, 2, &d), VX_ERR_PROTO);
    tu_unhex("01 05", exp, 2);
    assert_int_equal(vx_wire_hello_decode(exp, 2, &d), VX_ERR_PROTO);
    tu_unhex("02 01", exp, 2);
    assert_int_equal(vx_wire_hello_decode(exp, 2, &d), VX_ERR_VERSION);
}

static void test_record_header(void **state)
{
    uint8_t out[4], exp[4];
    size_t ct;

    assert_int_equal(vx_wire_rec_hdr_encode(out, 100), 0);
    tu_unhex("00000074", exp, 4);
    assert_memory_equal(out, exp, 4);
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 4, &ct), 0);
    assert_int_equal(ct, 116);
    assert_int_equal(vx_wire_rec_hdr_encode(out, VX_REC_MAX_PLAIN), 0);
    tu_unhex("00010010", exp, 4);
    assert_memory_equal(out, exp, 4);
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 4, &ct), 0);
    assert_int_equal(ct, VX_REC_MAX_PLAIN + 16);

    assert_int_equal(vx_wire_rec_hdr_encode(out, 0), VX_ERR_TOOBIG);
    assert_int_equal(vx_wire_rec_hdr_encode(out, VX_REC_MAX_PLAIN + 1), VX_ERR_TOOBIG);
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 3, &ct), VX_ERR_TRUNC);
    tu_unhex("00010011", exp, 4);
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 4, &ct), VX_ERR_TOOBIG);
    tu_unhex("ffffffff", exp, 4);
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 4, &ct), VX_ERR_TOOBIG);
    tu_unhex("00000010", exp, 4); /* a tag with no plaintext */
    assert_int_equal(vx_wire_rec_hdr_decode(exp, 4, &ct), VX_ERR_PROTO);
}

struct vector {
    const char *name;
    struct vx_frame f;
    const char *hex;
};

static const uint8_t hello5[] = "hello";

static const struct vector vectors[] = {
        {"STREAM_OPEN",
         {.type = VX_FR_STREAM_OPEN,
          .sid = 1,
          .target = {.kind = 1, .port = 80, .name = "web", .data_len = 2, .data = {1, 2}}},
         "01 00000001 01 0050 03 776562 0002 0102"},
        {"STREAM_OPEN empty",
         {.type = VX_FR_STREAM_OPEN, .sid = 0x80000002, .target = {.kind = 3, .port = 0}},
         "01 80000002 03 0000 00 0000"},
        {"OPEN_OK", {.type = VX_FR_OPEN_OK, .sid = 3}, "02 00000003"},
        {"OPEN_FAIL",
         {.type = VX_FR_OPEN_FAIL, .sid = 5, .reason = VX_RSN_NOTFOUND},
         "03 00000005 0003"},
        {"DATA",
         {.type = VX_FR_DATA, .sid = 7, .data = hello5, .data_len = 5},
         "04 00000007 0005 68656c6c6f"},
        {"FIN", {.type = VX_FR_FIN, .sid = 9}, "05 00000009"},
        {"RESET", {.type = VX_FR_RESET, .sid = 2, .reason = VX_RSN_RESET}, "06 00000002 000a"},
        {"WINDOW_UPDATE session",
         {.type = VX_FR_WINDOW_UPDATE, .sid = 0, .incr = 65536},
         "07 00000000 00010000"},
        {"WINDOW_UPDATE stream",
         {.type = VX_FR_WINDOW_UPDATE, .sid = 4, .incr = 0xffffffff},
         "07 00000004 ffffffff"},
        {"PING", {.type = VX_FR_PING, .opaque = {1, 2, 3, 4, 5, 6, 7, 8}}, "08 0102030405060708"},
        {"PONG",
         {.type = VX_FR_PONG, .opaque = {0xff, 0, 0, 0, 0, 0, 0, 0x11}},
         "09 ff00000000000011"},
        {"GOAWAY", {.type = VX_FR_GOAWAY, .sid = 11, .reason = VX_RSN_NONE}, "0a 0000000b 0000"},
        {"REKEY", {.type = VX_FR_REKEY}, "0b"},
};

static void check_same(const struct vx_frame *a, const struct vx_frame *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->sid, b->sid);
    assert_int_equal(a->reason, b->reason);
    assert_int_equal(a->incr, b->incr);
    assert_memory_equal(a->opaque, b->opaque, 8);
    assert_int_equal(a->data_len, b->data_len);
    if (a->data_len)
        assert_memory_equal(a->data, b->data, a->data_len);
    if (a->type == VX_FR_STREAM_OPEN) {
        assert_int_equal(a->target.kind, b->target.kind);
        assert_int_equal(a->target.port, b->target.port);
        assert_string_equal(a->target.name, b->target.name);
        assert_int_equal(a->target.data_len, b->target.data_len);
        assert_memory_equal(a->target.data, b->target.data, a->target.data_len);
    }
}

static void test_frame_vectors(void **state)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        uint8_t exp[512], out[512];
        size_t elen = tu_unhex(v->hex, exp, sizeof(exp)), olen = 0, used = 0;
        struct vx_frame d;

        print_message("vector %s\n", v->name);
        assert_int_equal(vx_frame_encode(&v->f, out, sizeof(out), &olen), 0);
        assert_int_equal(olen, elen);
        assert_memory_equal(out, exp, elen);
        /* Exactly the right room is enough, one byte less is not. */
        assert_int_equal(vx_frame_encode(&v->f, out, elen, &olen), 0);
        assert_int_equal(vx_frame_encode(&v->f, out, elen - 1, &olen), VX_ERR_TOOBIG);

        assert_int_equal(vx_frame_decode(exp, elen, &d, &used), 0);
        assert_int_equal(used, elen);
        check_same(&v->f, &d);
        /* Trailing bytes belong to the next frame. */
        exp[elen] = 0xee;
        assert_int_equal(vx_frame_decode(exp, elen + 1, &d, &used), 0);
        assert_int_equal(used, elen);
        for (size_t n = 0; n < elen; n++)
            assert_int_equal(vx_frame_decode(exp, n, &d, &used), VX_ERR_TRUNC);
    }
}

static void test_frame_data_hdr(void **state)
{
    uint8_t out[7], exp[7];
    vx_frame_data_hdr(out, 0x01020304, 0xfff9);
    tu_unhex("04 01020304 fff9", exp, 7);
    assert_memory_equal(out, exp, 7);
}

static void expect_reject(const char *hex, int err)
{
    uint8_t in[512];
    size_t n = tu_unhex(hex, in, sizeof(in)), used;
    struct vx_frame f;
    print_message("reject %s\n", hex);
    assert_int_equal(vx_frame_decode(in, n, &f, &used), err);
}

static void test_frame_reject(void **state)
{
    expect_reject("00", VX_ERR_PROTO);                  /* type 0 */
    expect_reject("0c", VX_ERR_PROTO);                  /* unknown type */
    expect_reject("ff 00000001", VX_ERR_PROTO);         /* unknown type */
    expect_reject("04 00000001 0000", VX_ERR_PROTO);    /* empty DATA */
    expect_reject("04 00000000 0001 00", VX_ERR_PROTO); /* sid 0 */
    expect_reject("04 00000001 0002 00", VX_ERR_TRUNC); /* length past end */
    expect_reject("04 00000001 ffff 00", VX_ERR_TRUNC);
    expect_reject("02 00000000", VX_ERR_PROTO);                      /* OPEN_OK sid 0 */
    expect_reject("05 00000000", VX_ERR_PROTO);                      /* FIN sid 0 */
    expect_reject("06 00000000 0001", VX_ERR_PROTO);                 /* RESET sid 0 */
    expect_reject("07 00000001 00000000", VX_ERR_PROTO);             /* zero credit */
    expect_reject("01 00000001 04 0050 00 0000", VX_ERR_PROTO);      /* kind 4 */
    expect_reject("01 00000001 00 0050 00 0000", VX_ERR_PROTO);      /* kind 0 */
    expect_reject("01 00000001 01 0050 40", VX_ERR_PROTO);           /* name 64 */
    expect_reject("01 00000001 01 0050 02 6100 0000", VX_ERR_PROTO); /* NUL in name */
    expect_reject("01 00000001 01 0050 00 0101", VX_ERR_PROTO);      /* data 257 */
    expect_reject("01 00000001 01 0050 00 0002 01", VX_ERR_TRUNC);
    expect_reject("", VX_ERR_TRUNC);

    /* Encoder refuses what the decoder would reject. */
    uint8_t out[512];
    size_t n;
    struct vx_frame f = {.type = VX_FR_DATA, .sid = 1};
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_INVAL);
    f = (struct vx_frame){.type = VX_FR_FIN};
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_INVAL);
    f = (struct vx_frame){.type = VX_FR_WINDOW_UPDATE, .sid = 1};
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_INVAL);
    f = (struct vx_frame){.type = 12, .sid = 1};
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_INVAL);
    f = (struct vx_frame){.type = VX_FR_STREAM_OPEN, .sid = 1, .target = {.kind = 1}};
    memset(f.target.name, 'a', sizeof(f.target.name)); /* no terminator: 64 chars */
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_TOOBIG);
    f.target.name[63] = 0;
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), 0);
    assert_int_equal(n, 1 + 4 + 1 + 2 + 1 + 63 + 2);
    f.target.data_len = 257;
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), VX_ERR_INVAL);
    f.target.data_len = 256;
    assert_int_equal(vx_frame_encode(&f, out, sizeof(out), &n), 0);
    assert_int_equal(n, VX_FRAME_MAX_CTRL);
}

static void test_reasons(void **state)
{
    static const int errs[] = {0,
                               VX_ERR_INTERNAL,
                               VX_ERR_REFUSED,
                               VX_ERR_NOTFOUND,
                               VX_ERR_DENIED,
                               VX_ERR_TIMEOUT,
                               VX_ERR_UNREACH,
                               VX_ERR_LIMIT,
                               VX_ERR_PROTO,
                               VX_ERR_CLOSED,
                               VX_ERR_RESET,
                               VX_ERR_AUTH,
                               VX_ERR_BADADDR,
                               VX_ERR_PEER_ID,
                               VX_ERR_INVAL,
                               VX_ERR_ROUTE};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        uint16_t r = vx_wire_reason_from_err(errs[i]);
        assert_int_equal(r, i); /* the codes are stable: table order */
        assert_int_equal(vx_wire_reason_to_err(r), errs[i]);
    }
    assert_int_equal(vx_wire_reason_from_err(VX_ERR_SYS), VX_RSN_INTERNAL);
    assert_int_equal(vx_wire_reason_to_err(999), VX_ERR_RESET);
    assert_string_equal(vx_frame_type_name(VX_FR_GOAWAY), "GOAWAY");
    assert_string_equal(vx_frame_type_name(77), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cursor),        cmocka_unit_test(test_cursor_fail),
            cmocka_unit_test(test_be64),          cmocka_unit_test(test_hs_headers),
            cmocka_unit_test(test_hello),         cmocka_unit_test(test_record_header),
            cmocka_unit_test(test_frame_vectors), cmocka_unit_test(test_frame_data_hdr),
            cmocka_unit_test(test_frame_reject),  cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
