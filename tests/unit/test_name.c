/* test_name.c — classification of requested hosts (DESIGN.md "Names"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "front/name.h"
#include "lib/err.h"

#define HID "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx" /* 56 */

static void test_service(void **state)
{
    struct vx_name n;
    assert_int_equal(vx_name_parse("alice.web.vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_SERVICE);
    assert_string_equal(n.user, "alice");
    assert_string_equal(n.service, "web");
    assert_string_equal(n.host, "alice.web.vx6");
    assert_int_equal(vx_name_parse("Team-1.API.VX6.", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_SERVICE);
    assert_string_equal(n.user, "team-1");
    assert_string_equal(n.service, "api");
    assert_string_equal(n.host, "team-1.api.vx6");
    /* 63-character labels are fine, 64 are not */
    char h[200];
    memset(h, 'a', 63);
    strcpy(h + 63, ".ssh.vx6");
    assert_int_equal(vx_name_parse(h, 0, &n), 0);
    assert_int_equal(strlen(n.user), 63);
    memset(h, 'a', 64);
    strcpy(h + 64, ".ssh.vx6");
    assert_int_equal(vx_name_parse(h, 0, &n), VX_ERR_BADADDR);
}

static void test_bad_vx6(void **state)
{
    static const char *bad[] = {
            "vx6",
            ".vx6",
            "..vx6",
            "a..vx6",
            "-a.web.vx6",
            "a-.web.vx6",
            "a_b.web.vx6",
            "a.b.c.vx6",
            "a.b.c.d.vx6",
            "al ice.web.vx6",
            "alice.web.vx6..",
            "alice.w\xc3\xa9\x62.vx6", /* \x62 is b: "\xa9b" would be one escape */
            ".alice.web.vx6",
            "alice..vx6",
            "a.b.ipv6.vx6",
            "web.zz--1.ipv6.vx6",
            "web.2001-db8--1%eth0.ipv6.vx6",
            "web.fe80--1s2.ipv6.vx6",
            "web.--.ipv6.vx6",
            "web.ff02--1.ipv6.vx6",
            "web.--ffff-1-2.ipv6.vx6",
            "-web.--1.ipv6.vx6",
            "web.1-2-3-4-5-6-7-8-9.ipv6.vx6",
            "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv01.vx6",
            "",
            "[]",
            "[alice.web.vx6]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vx_name n;
        int rc = vx_name_parse(bad[i], VX_NAME_ALLOW_CLEARNET, &n);
        if (rc != VX_ERR_BADADDR)
            fail_msg("\"%s\": got %d (kind %d), want VX_ERR_BADADDR", bad[i], rc, n.kind);
    }
}

static void test_hidden(void **state)
{
    struct vx_name n;
    assert_int_equal(vx_name_parse(HID ".vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_HIDDEN);
    assert_string_equal(n.address, HID);
    char up[80];
    for (size_t i = 0; i <= strlen(HID ".vx6."); i++)
        up[i] = (char)((HID ".vx6.")[i] >= 'a' && (HID ".vx6.")[i] <= 'z' ? (HID ".vx6.")[i] - 32
                                                                          : (HID ".vx6.")[i]);
    assert_int_equal(vx_name_parse(up, 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_HIDDEN);
    assert_string_equal(n.address, HID);
    assert_true(vx_name_hidden_syntax_ok(HID, 56));
    assert_false(vx_name_hidden_syntax_ok(HID, 55));
    assert_false(vx_name_hidden_syntax_ok(
            "1bcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx", 56));
    assert_false(vx_name_hidden_syntax_ok(
            "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv-x", 56));
}

static void test_alias(void **state)
{
    struct vx_name n;
    assert_int_equal(vx_name_parse("mywiki.vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_ALIAS);
    assert_string_equal(n.alias, "mywiki");
    assert_int_equal(vx_name_parse("Db-2.VX6.", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_ALIAS);
    assert_string_equal(n.alias, "db-2");
    /* 55 characters, not base32: still an alias */
    assert_int_equal(
            vx_name_parse("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrs.vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_ALIAS);
    /* 57 characters: a valid label, so an alias too */
    assert_int_equal(vx_name_parse(HID "a.vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_ALIAS);
}

static void test_ipv6(void **state)
{
    struct vx_name n;
    struct in6_addr want;
    assert_int_equal(vx_name_parse("web.2001-db8--1.ipv6.vx6", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_IPV6);
    assert_string_equal(n.service, "web");
    inet_pton(AF_INET6, "2001:db8::1", &want);
    assert_memory_equal(&n.ip6, &want, 16);
    assert_int_equal(vx_name_parse("SSH.FD00-0-0-0-0-0-0-AB.IPV6.VX6.", 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_IPV6);
    assert_string_equal(n.service, "ssh");
    inet_pton(AF_INET6, "fd00::ab", &want);
    assert_memory_equal(&n.ip6, &want, 16);
    assert_int_equal(vx_name_parse("web.--1.ipv6.vx6", 0, &n), 0); /* ::1 for tests */
    assert_int_equal(vx_name_parse("web.2001-0db8-0000-0000-0000-0000-0000-0001.ipv6.vx6", 0, &n),
                     0);
    inet_pton(AF_INET6, "2001:db8::1", &want);
    assert_memory_equal(&n.ip6, &want, 16);
}

static void test_clearnet(void **state)
{
    struct vx_name n;
    assert_int_equal(vx_name_parse("example.com", 0, &n), VX_ERR_DENIED);
    assert_int_equal(n.kind, VX_NAME_CLEARNET);
    assert_string_equal(n.host, "example.com");
    assert_int_equal(vx_name_parse("Example.COM.", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_string_equal(n.host, "example.com");
    assert_int_equal(n.ip_family, 0);
    assert_int_equal(vx_name_parse("_srv.example.com", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(vx_name_parse("192.0.2.1", 0, &n), VX_ERR_DENIED);
    assert_int_equal(vx_name_parse("192.0.2.1", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.ip_family, AF_INET);
    assert_int_equal(vx_name_parse("2001:db8::1", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.ip_family, AF_INET6);
    assert_int_equal(vx_name_parse("[2001:DB8::1]", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.ip_family, AF_INET6);
    assert_string_equal(n.host, "2001:db8::1");
    assert_int_equal(vx_name_parse("localhost", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.kind, VX_NAME_CLEARNET);
    /* near misses of .vx6 are clearnet names */
    assert_int_equal(vx_name_parse("alice.web.vx66", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.kind, VX_NAME_CLEARNET);
    assert_int_equal(vx_name_parse("alicevx6", VX_NAME_ALLOW_CLEARNET, &n), 0);
    assert_int_equal(n.kind, VX_NAME_CLEARNET);

    static const char *bad[] = {"999.1.1.1", "1.2.3",       "exa mple.com",   "a..b",
                                "-a.com",    "[192.0.2.1]", "2001:db8::1::2", "fe80::1%eth0",
                                "a\tb",      "[::1",        "ex\"ample.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (vx_name_parse(bad[i], VX_NAME_ALLOW_CLEARNET, &n) != VX_ERR_BADADDR)
            fail_msg("\"%s\" accepted", bad[i]);
}

static void test_lengths(void **state)
{
    struct vx_name n;
    char h[300];
    /* 253 characters is the most a name may have */
    memset(h, 'a', sizeof(h));
    for (size_t i = 63; i < 253; i += 64)
        h[i] = '.';
    h[253] = '\0';
    assert_int_equal(vx_name_parse(h, VX_NAME_ALLOW_CLEARNET, &n), 0);
    h[253] = '.', h[254] = '\0';
    assert_int_equal(vx_name_parse(h, VX_NAME_ALLOW_CLEARNET, &n), 0);
    h[253] = 'a';
    assert_int_equal(vx_name_parse(h, VX_NAME_ALLOW_CLEARNET, &n), VX_ERR_TOOBIG);
    assert_string_equal(vx_name_kind_str(VX_NAME_HIDDEN), "hidden");
    assert_string_equal(vx_name_kind_str(0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_service), cmocka_unit_test(test_bad_vx6),
            cmocka_unit_test(test_hidden),  cmocka_unit_test(test_alias),
            cmocka_unit_test(test_ipv6),    cmocka_unit_test(test_clearnet),
            cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
