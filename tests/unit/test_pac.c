/* test_pac.c — the proxy auto-config body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "front/pac.h"
#include "lib/err.h"

static void test_vx6_only(void **state)
{
    static const char want[] =
            "// vx6 proxy auto-config: *.vx6 through vx6, everything else DIRECT.\n"
            "function FindProxyForURL(url, host) {\n"
            "    host = host.toLowerCase();\n"
            "    if (host.charAt(host.length - 1) == \".\")\n"
            "        host = host.substring(0, host.length - 1);\n"
            "    if (host.length > 4 && host.substring(host.length - 4) == \".vx6\")\n"
            "        return \"SOCKS5 127.0.0.1:1080; SOCKS 127.0.0.1:1080; PROXY "
            "127.0.0.1:1080\";\n"
            "    return \"DIRECT\";\n"
            "}\n";
    char out[VX_PAC_MAX];
    int n = vx_pac_build("127.0.0.1", 1080, VX_PAC_VX6_ONLY, out, sizeof(out));
    assert_int_equal(n, sizeof(want) - 1);
    assert_string_equal(out, want);
    assert_int_equal(vx_pac_build("127.0.0.1", 1080, VX_PAC_VX6_ONLY, out, (size_t)n),
                     VX_ERR_TOOBIG);
    assert_int_equal(vx_pac_build("127.0.0.1", 1080, VX_PAC_VX6_ONLY, out, (size_t)n + 1), n);
}

static void test_all_and_v6(void **state)
{
    char out[VX_PAC_MAX];
    int n = vx_pac_build("::1", 1080, VX_PAC_ALL, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "return \"SOCKS5 [::1]:1080; SOCKS [::1]:1080; PROXY "
                                "[::1]:1080\";\n}\n"));
    assert_non_null(strstr(out, "host == \"localhost\""));
    assert_null(strstr(out, ".vx6"));
    n = vx_pac_build("proxy.lan", 3128, VX_PAC_VX6_ONLY, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "\"SOCKS5 proxy.lan:3128; SOCKS proxy.lan:3128; PROXY "
                                "proxy.lan:3128\""));
}

static void test_bad_hosts(void **state)
{
    char out[VX_PAC_MAX];
    static const char *bad[] = {"", "0.0.0.0", "::", "a\"b", "a b", "a;b", "[::1]", "x\\y", "a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (vx_pac_build(bad[i], 1080, VX_PAC_VX6_ONLY, out, sizeof(out)) != VX_ERR_INVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(vx_pac_build(NULL, 1080, VX_PAC_VX6_ONLY, out, sizeof(out)), VX_ERR_INVAL);
    assert_int_equal(vx_pac_build("127.0.0.1", 0, VX_PAC_VX6_ONLY, out, sizeof(out)), VX_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vx6_only),
            cmocka_unit_test(test_all_and_v6),
            cmocka_unit_test(test_bad_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
