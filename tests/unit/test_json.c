/* test_json.c — the streaming JSON writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "lib/err.h"
#include "lib/json.h"

static void test_object_and_array(void **state)
{
    (void)state;
    struct vx_json *j = vx_json_new();
    vx_json_obj_begin(j);
    vx_json_kv_str(j, "name", "vx6");
    vx_json_kv_int(j, "neg", -42);
    vx_json_kv_uint(j, "big", UINT64_MAX);
    vx_json_kv_bool(j, "t", true);
    vx_json_kv_bool(j, "f", false);
    vx_json_key(j, "nothing");
    vx_json_null(j);
    vx_json_key(j, "list");
    vx_json_arr_begin(j);
    vx_json_int(j, 1);
    vx_json_str(j, "two");
    vx_json_obj_begin(j);
    vx_json_obj_end(j);
    vx_json_arr_begin(j);
    vx_json_arr_end(j);
    vx_json_arr_end(j);
    vx_json_key(j, "d");
    vx_json_double(j, 0.5);
    vx_json_obj_end(j);
    assert_int_equal(vx_json_finish(j), 0);
    assert_string_equal(vx_json_data(j, NULL),
                        "{\"name\":\"vx6\",\"neg\":-42,\"big\":18446744073709551615,\"t\":true,"
                        "\"f\":false,\"nothing\":null,\"list\":[1,\"two\",{},[]],\"d\":0.5}");
    vx_json_free(j);
}

static void test_escaping(void **state)
{
    (void)state;
    char out[128];
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/é€😀";
    size_t n = vx_json_escape(in, strlen(in), out, sizeof(out));
    const char *want = "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/é€😀\"";
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));

    /* embedded NUL via strn */
    struct vx_json *j = vx_json_new();
    vx_json_strn(j, "a\0b", 3);
    assert_int_equal(vx_json_finish(j), 0);
    assert_string_equal(vx_json_data(j, NULL), "\"a\\u0000b\"");
    vx_json_free(j);
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    char out[128];
    /* lone continuation, overlong 0xc0 0xaf, surrogate ed a0 80, truncated 3-byte, 0xff */
    const char in[] = "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xff|\xf4\x90\x80\x80";
    vx_json_escape(in, strlen(in), out, sizeof(out));
    assert_string_equal(out, "\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
                             "\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_escape_truncates_like_snprintf(void **state)
{
    (void)state;
    char out[5];
    size_t n = vx_json_escape("hello", 5, out, sizeof(out));
    assert_int_equal(n, 7);
    assert_string_equal(out, "\"hel");
    assert_int_equal(vx_json_escape("x", 1, NULL, 0), 3);
}

static void test_misuse_is_error(void **state)
{
    (void)state;
    struct vx_json *j;

    /* value without key inside object */
    j = vx_json_new();
    vx_json_obj_begin(j);
    vx_json_int(j, 1);
    vx_json_obj_end(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* key inside array */
    j = vx_json_new();
    vx_json_arr_begin(j);
    vx_json_key(j, "k");
    vx_json_arr_end(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* mismatched close */
    j = vx_json_new();
    vx_json_obj_begin(j);
    vx_json_arr_end(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* unclosed */
    j = vx_json_new();
    vx_json_arr_begin(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* key without value before close */
    j = vx_json_new();
    vx_json_obj_begin(j);
    vx_json_key(j, "k");
    vx_json_obj_end(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* two root values */
    j = vx_json_new();
    vx_json_int(j, 1);
    vx_json_int(j, 2);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    /* empty document */
    j = vx_json_new();
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);

    vx_json_free(NULL);
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct vx_json *j = vx_json_new();
    for (int i = 0; i < VX_JSON_MAX_DEPTH; i++)
        vx_json_arr_begin(j);
    for (int i = 0; i < VX_JSON_MAX_DEPTH; i++)
        vx_json_arr_end(j);
    assert_int_equal(vx_json_finish(j), 0);
    vx_json_free(j);

    j = vx_json_new();
    for (int i = 0; i < VX_JSON_MAX_DEPTH + 1; i++)
        vx_json_arr_begin(j);
    assert_int_equal(vx_json_finish(j), VX_ERR_INVAL);
    vx_json_free(j);
}

static void test_nonfinite_double(void **state)
{
    (void)state;
    struct vx_json *j = vx_json_new();
    vx_json_arr_begin(j);
    vx_json_double(j, 1.0 / 0.0);
    vx_json_double(j, -2.25);
    vx_json_arr_end(j);
    assert_int_equal(vx_json_finish(j), 0);
    assert_string_equal(vx_json_data(j, NULL), "[null,-2.25]");
    vx_json_free(j);
}

static void test_large_document_grows(void **state)
{
    (void)state;
    struct vx_json *j = vx_json_new();
    size_t len;
    vx_json_arr_begin(j);
    for (int i = 0; i < 10000; i++)
        vx_json_str(j, "0123456789");
    vx_json_arr_end(j);
    assert_int_equal(vx_json_finish(j), 0);
    vx_json_data(j, &len);
    assert_int_equal(len, 2 + 10000 * 12 + 9999);
    vx_json_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_object_and_array),
            cmocka_unit_test(test_escaping),
            cmocka_unit_test(test_invalid_utf8_replaced),
            cmocka_unit_test(test_escape_truncates_like_snprintf),
            cmocka_unit_test(test_misuse_is_error),
            cmocka_unit_test(test_depth_limit),
            cmocka_unit_test(test_nonfinite_double),
            cmocka_unit_test(test_large_document_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
