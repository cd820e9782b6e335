/* test_base32.c — RFC 4648 base32 (lowercase, unpadded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "lib/base32.h"
#include "lib/err.h"

/* RFC 4648 section 10 vectors, lowercased and without padding. */
static const struct {
    const char *in, *out;
} rfc[] = {
        {"", ""},
        {"f", "my"},
        {"fo", "mzxq"},
        {"foo", "mzxw6"},
        {"foob", "mzxw6yq"},
        {"fooba", "mzxw6ytb"},
        {"foobar", "mzxw6ytboi"},
};

static void test_rfc_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
        char out[64];
        uint8_t back[64];
        size_t n = strlen(rfc[i].in);
        assert_int_equal(vx_base32_encode((const uint8_t *)rfc[i].in, n, out, sizeof(out)),
                         (int)strlen(rfc[i].out));
        assert_string_equal(out, rfc[i].out);
        assert_int_equal(vx_base32_decode(out, strlen(out), back, sizeof(back)), (int)n);
        assert_memory_equal(back, rfc[i].in, n);
    }
}

static void test_decode_case_insensitive(void **state)
{
    uint8_t out[8];
    (void)state;
    assert_int_equal(vx_base32_decode("MZXW6YTBOI", 10, out, sizeof(out)), 6);
    assert_memory_equal(out, "foobar", 6);
}

static void test_decode_rejects(void **state)
{
    uint8_t out[64];
    (void)state;
    assert_int_equal(vx_base32_decode("mzxw6yt1", 8, out, sizeof(out)), VX_ERR_INVAL); /* '1' */
    assert_int_equal(vx_base32_decode("mzxw6===", 8, out, sizeof(out)), VX_ERR_INVAL); /* pad */
    assert_int_equal(vx_base32_decode("m", 1, out, sizeof(out)), VX_ERR_INVAL);        /* length */
    assert_int_equal(vx_base32_decode("mzx", 3, out, sizeof(out)), VX_ERR_INVAL);
    /* "mz" decodes to 'f' only if the 2 trailing bits are zero: "mz" has 11 => non-zero */
    assert_int_equal(vx_base32_decode("mz", 2, out, sizeof(out)), VX_ERR_INVAL);
    assert_int_equal(vx_base32_decode("mzxw6ytboi", 10, out, 5), VX_ERR_TOOBIG);
}

static void test_encode_cap(void **state)
{
    char out[11];
    (void)state;
    assert_int_equal(vx_base32_encode((const uint8_t *)"foobar", 6, out, 10), VX_ERR_TOOBIG);
    assert_int_equal(vx_base32_encode((const uint8_t *)"foobar", 6, out, 11), 10);
}

static void test_roundtrip_all_lengths(void **state)
{
    uint8_t in[64], back[64];
    char txt[128];
    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        int len = vx_base32_encode(in, n, txt, sizeof(txt));
        assert_int_equal(len, (int)VX_BASE32_LEN(n));
        assert_int_equal(vx_base32_decode(txt, (size_t)len, back, sizeof(back)), (int)n);
        assert_memory_equal(back, in, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rfc_vectors),
            cmocka_unit_test(test_decode_case_insensitive),
            cmocka_unit_test(test_decode_rejects),
            cmocka_unit_test(test_encode_cap),
            cmocka_unit_test(test_roundtrip_all_lengths),
    };
    return cmocka_run_group_tests_name("base32", tests, NULL, NULL);
}
