/* test_front_errors.c — the VX_ERR_* -> SOCKS5 / HTTP table of front/errors.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "front/errors.h"
#include "lib/err.h"

static const struct {
    int err;
    uint8_t socks5;
    int http;
} table[] = {
        {0, 0x00, 200},
        {VX_ERR_NOTFOUND, 0xf0, 404},
        {VX_ERR_EXPIRED, 0xf0, 404},
        {VX_ERR_BADSIG, 0xf1, 502},
        {VX_ERR_CORRUPT, 0xf1, 502},
        {VX_ERR_STALE, 0xf1, 502},
        {VX_ERR_KEYCHANGED, 0xf1, 403},
        {VX_ERR_AUTH, 0xf5, 403},
        {VX_ERR_AUTH_MISSING, 0xf4, 403},
        {VX_ERR_INTRO_FAILED, 0xf2, 502},
        {VX_ERR_REND_FAILED, 0xf3, 502},
        {VX_ERR_INTRO_TIMEOUT, 0xf7, 504},
        {VX_ERR_BADADDR, 0xf6, 400},
        {VX_ERR_INVAL, 0x01, 400},
        {VX_ERR_TRUNC, 0x01, 400},
        {VX_ERR_TOOBIG, 0x01, 400},
        {VX_ERR_DENIED, 0x02, 403},
        {VX_ERR_PERM, 0x02, 403},
        {VX_ERR_ROUTE, 0x02, 403},
        {VX_ERR_UNREACH, 0x04, 502},
        {VX_ERR_PEER_ID, 0x04, 502},
        {VX_ERR_REFUSED, 0x05, 502},
        {VX_ERR_TIMEOUT, 0x06, 504},
        /* everything else: general failure / 502 */
        {VX_ERR_NOMEM, 0x01, 502},
        {VX_ERR_AGAIN, 0x01, 502},
        {VX_ERR_SYS, 0x01, 502},
        {VX_ERR_CRYPTO, 0x01, 502},
        {VX_ERR_PROTO, 0x01, 502},
        {VX_ERR_VERSION, 0x01, 502},
        {VX_ERR_EXISTS, 0x01, 502},
        {VX_ERR_CLOSED, 0x01, 502},
        {VX_ERR_LIMIT, 0x01, 502},
        {VX_ERR_REPLAY, 0x01, 502},
        {VX_ERR_CONFIG, 0x01, 502},
        {VX_ERR_RESET, 0x01, 502},
        {VX_ERR_INTERNAL, 0x01, 502},
        {-1000, 0x01, 502},
};

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (vx_front_socks5_code(table[i].err) != table[i].socks5 ||
            vx_front_http_status(table[i].err) != table[i].http)
            fail_msg("%s: got 0x%02x/%d, want 0x%02x/%d", vx_errname(table[i].err),
                     vx_front_socks5_code(table[i].err), vx_front_http_status(table[i].err),
                     table[i].socks5, table[i].http);
    }
    /* every code in err.h is covered above */
    for (int e = VX_ERR_MIN_ + 1; e <= 0; e++) {
        int found = 0;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
            found |= table[i].err == e;
        if (!found)
            fail_msg("%s missing from the test table", vx_errname(e));
    }
}

static void test_socks4(void **state)
{
    assert_int_equal(vx_socks4_code(0x00), 0x5a);
    assert_int_equal(vx_socks4_code(0x01), 0x5b);
    assert_int_equal(vx_socks4_code(0xf0), 0x5b);
}

static void test_lines(void **state)
{
    char buf[256];
    assert_int_equal(vx_front_err_line(VX_ERR_NOTFOUND, "alice.web.vx6", buf, sizeof(buf)),
                     strlen("vx6: no record for alice.web.vx6"));
    assert_string_equal(buf, "vx6: no record for alice.web.vx6");
    vx_front_err_line(VX_ERR_TIMEOUT, "bob.ssh.vx6", buf, sizeof(buf));
    assert_string_equal(buf, "vx6: timed out reaching bob.ssh.vx6");
    vx_front_err_line(VX_ERR_KEYCHANGED, "bob.ssh.vx6", buf, sizeof(buf));
    assert_non_null(strstr(buf, "vx6 trust"));
    vx_front_err_line(VX_ERR_CLOSED, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "vx6: the destination: closed");
    /* truncation keeps a NUL and reports the length written */
    assert_int_equal(vx_front_err_line(VX_ERR_NOTFOUND, "alice.web.vx6", buf, 8), 7);
    assert_string_equal(buf, "vx6: no");
    assert_int_equal(vx_front_err_line(VX_ERR_NOTFOUND, "x", buf, 0), 0);
    assert_string_equal(vx_http_reason_phrase(404), "Not Found");
    assert_string_equal(vx_http_reason_phrase(431), "Request Header Fields Too Large");
    assert_string_equal(vx_http_reason_phrase(299), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_socks4),
            cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
