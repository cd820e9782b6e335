/* test_addr.c — unit tests for src/lib/addr.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"

/* Parse s and format it back; the text must equal want. */
static void roundtrip(const char *s, unsigned flags, const char *want)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char out[VX_ADDR_STRLEN];
    const char *why = NULL;
    int rc = vx_addr_parse_ex(s, flags, &ss, &len, &why);
    if (rc != 0)
        fail_msg("'%s' did not parse: %s", s, why ? why : "?");
    assert_int_equal(vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out)),
                     (int)strlen(want));
    assert_string_equal(out, want);
}

static void bad(const char *s, unsigned flags, const char *want_why)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    const char *why = NULL;
    int rc = vx_addr_parse_ex(s, flags, &ss, &len, &why);
    if (rc != VX_ERR_BADADDR)
        fail_msg("'%s' should not parse (rc %d)", s, rc);
    assert_non_null(why);
    if (want_why && !strstr(why, want_why))
        fail_msg("'%s': reason '%s' lacks '%s'", s, why, want_why);
}

static void test_parse_good(void **state)
{
    (void)state;
    roundtrip("127.0.0.1:8080", 0, "127.0.0.1:8080");
    roundtrip("[::1]:4242", 0, "[::1]:4242");
    roundtrip("[2001:DB8::1]:1", 0, "[2001:db8::1]:1");
    roundtrip("localhost:80", 0, "127.0.0.1:80");
    roundtrip("LocalHost:80", 0, "127.0.0.1:80");
    roundtrip(":4242", 0, "[::]:4242");
    roundtrip("*:4242", 0, "[::]:4242");
    roundtrip("0.0.0.0:65535", 0, "0.0.0.0:65535");
    roundtrip("8080", VX_ADDR_BARE_PORT_LOOPBACK, "127.0.0.1:8080");
    roundtrip("4242", VX_ADDR_BARE_PORT_ANY, "[::]:4242");
    roundtrip("127.0.0.1:0", VX_ADDR_PORT0, "127.0.0.1:0");
    roundtrip("[::ffff:192.0.2.1]:7", 0, "[::ffff:192.0.2.1]:7");
    /* numeric zone on a link-local address */
    roundtrip("[fe80::1%4000000]:4242", 0, "[fe80::1%4000000]:4242");
}

static void test_parse_zone_name(void **state)
{
    (void)state;
    char name[IF_NAMESIZE], in[64], want[64];
    unsigned idx = if_nametoindex("lo");
    if (!idx || !if_indextoname(idx, name))
        skip();
    snprintf(in, sizeof(in), "[fe80::1%%%s]:4242", name);
    snprintf(want, sizeof(want), "[fe80::1%%%s]:4242", name);
    roundtrip(in, 0, want);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(vx_addr_parse(in, 0, &ss, &len), 0);
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, idx);
}

static void test_parse_bad(void **state)
{
    (void)state;
    bad("", 0, "empty");
    bad("127.0.0.1:99999", 0, "port out of range");
    bad("127.0.0.1:65536", 0, "port out of range");
    bad("127.0.0.1:0", 0, "port 0");
    bad("127.0.0.1:", 0, "missing port");
    bad("127.0.0.1", 0, "missing port");
    bad("127.0.0.1:+80", 0, "not a number");
    bad("127.0.0.1:80x", 0, "not a number");
    bad("127.0.0.1:-1", 0, "not a number");
    bad("::1:4242", 0, "brackets");
    bad("[::1]", 0, "missing port");
    bad("[::1]4242", 0, "expected ':'");
    bad("[::1:4242", 0, "missing ']'");
    bad("[127.0.0.1]:80", 0, "brackets are only for IPv6");
    bad("256.0.0.1:80", 0, "IPv4");
    bad("1.2.3:80", 0, "IPv4");
    bad("example.com:80", 0, "not resolved");
    bad("[fe80::1%]:80", 0, "zone");
    bad("[fe80::1%nosuchif0]:80", 0, "unknown network interface");
    bad("[2001:db8::1%1]:80", 0, "link-local");
    bad("[::g]:80", 0, "IPv6");
    bad("8080", 0, "missing port");
    bad("0", VX_ADDR_BARE_PORT_LOOPBACK, "port 0");
    char longs[300];
    memset(longs, '1', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    bad(longs, 0, "too long");
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(vx_addr_parse(NULL, 0, &ss, &len), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_parse("127.0.0.1:1", 0, &ss, &len), 0);
}

static void test_parse_ip(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char out[VX_ADDR_STRLEN];

    assert_int_equal(vx_addr_parse_ip("192.0.2.1", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(vx_addr_format_ip((struct sockaddr *)&ss, len, out, sizeof(out)), 9);
    assert_string_equal(out, "192.0.2.1");
    assert_int_equal(vx_addr_parse_ip("2001:db8::1", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(vx_addr_port((struct sockaddr *)&ss), 0);
    assert_int_equal(vx_addr_parse_ip("[2001:db8::2]", &ss, &len), 0);
    vx_addr_format_ip((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "2001:db8::2");
    assert_int_equal(vx_addr_parse_ip("[192.0.2.1]", &ss, &len), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_parse_ip("192.0.2.1:80", &ss, &len), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_parse_ip("", &ss, &len), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_parse_ip("localhost", &ss, &len), VX_ERR_BADADDR);
}

static void test_format_edge(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char small[8];
    struct sockaddr_un_like {
        sa_family_t f;
    } other = {AF_UNIX};

    assert_int_equal(vx_addr_parse("[2001:db8::1]:4242", 0, &ss, &len), 0);
    assert_int_equal(vx_addr_format((struct sockaddr *)&ss, len, small, sizeof(small)),
                     VX_ERR_TOOBIG);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    /* short length is refused rather than read past */
    assert_int_equal(vx_addr_format((struct sockaddr *)&ss, 4, small, sizeof(small)),
                     VX_ERR_BADADDR);
    assert_int_equal(vx_addr_format((struct sockaddr *)&other, sizeof(other), small, sizeof(small)),
                     VX_ERR_BADADDR);
    /* the longest text fits VX_ADDR_STRLEN */
    char big[VX_ADDR_STRLEN];
    assert_int_equal(
            vx_addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535", 0,
                          &ss, &len),
            VX_ERR_BADADDR); /* not link-local */
    assert_int_equal(vx_addr_parse("[fe80:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535", 0,
                                   &ss, &len),
                     0);
    assert_true(vx_addr_format((struct sockaddr *)&ss, len, big, sizeof(big)) > 0);
    assert_string_equal(big, "[fe80:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
}

static void test_cmp(void **state)
{
    (void)state;
    struct sockaddr_storage a, b;
    socklen_t la, lb;

    vx_addr_parse("192.0.2.1:80", 0, &a, &la);
    vx_addr_parse("[::ffff:192.0.2.1]:80", 0, &b, &lb);
    assert_int_equal(vx_addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b), 0);
    vx_addr_parse("192.0.2.1:81", 0, &b, &lb);
    assert_true(vx_addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b) < 0);
    assert_true(vx_addr_cmp((struct sockaddr *)&b, (struct sockaddr *)&a) > 0);
    assert_int_equal(vx_addr_cmp_ip((struct sockaddr *)&a, (struct sockaddr *)&b), 0);
    vx_addr_parse("[2001:db8::1]:80", 0, &b, &lb);
    assert_true(vx_addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b) != 0);
    vx_addr_parse("[2001:db8::1]:80", 0, &a, &la);
    assert_int_equal(vx_addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b), 0);
    vx_addr_parse("[fe80::1%1]:80", 0, &a, &la);
    vx_addr_parse("[fe80::1%2]:80", 0, &b, &lb);
    assert_true(vx_addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b) < 0);
}

static void test_predicates(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;

    static const char *const lo[] = {"127.0.0.1:1", "127.9.8.7:1", "[::1]:1",
                                     "[::ffff:127.0.0.1]:1", "localhost:1"};
    static const char *const notlo[] = {"128.0.0.1:1", "[::2]:1", "[::]:1", "0.0.0.0:1",
                                        "[::ffff:10.0.0.1]:1"};
    for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
        assert_int_equal(vx_addr_parse(lo[i], 0, &ss, &len), 0);
        if (!vx_addr_is_loopback((struct sockaddr *)&ss))
            fail_msg("%s should be loopback", lo[i]);
    }
    for (size_t i = 0; i < sizeof(notlo) / sizeof(notlo[0]); i++) {
        assert_int_equal(vx_addr_parse(notlo[i], 0, &ss, &len), 0);
        if (vx_addr_is_loopback((struct sockaddr *)&ss))
            fail_msg("%s should not be loopback", notlo[i]);
    }
    vx_addr_parse(":1", 0, &ss, &len);
    assert_true(vx_addr_is_any((struct sockaddr *)&ss));
    vx_addr_parse("0.0.0.0:1", 0, &ss, &len);
    assert_true(vx_addr_is_any((struct sockaddr *)&ss));
    vx_addr_parse("[::1]:1", 0, &ss, &len);
    assert_false(vx_addr_is_any((struct sockaddr *)&ss));
}

static void test_port_unmap(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char out[VX_ADDR_STRLEN];

    vx_addr_parse("[::ffff:192.0.2.7]:99", 0, &ss, &len);
    assert_int_equal(vx_addr_port((struct sockaddr *)&ss), 99);
    assert_int_equal(vx_addr_set_port((struct sockaddr *)&ss, 100), 0);
    vx_addr_unmap(&ss, &len);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7:100");
    vx_addr_parse("[2001:db8::1]:5", 0, &ss, &len);
    vx_addr_unmap(&ss, &len);
    assert_int_equal(ss.ss_family, AF_INET6);
    ss.ss_family = AF_UNIX;
    assert_int_equal(vx_addr_set_port((struct sockaddr *)&ss, 1), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_port((struct sockaddr *)&ss), 0);
}

static void test_map(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char out[VX_ADDR_STRLEN];

    vx_addr_parse("192.0.2.7:99", 0, &ss, &len);
    vx_addr_map(&ss, &len);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "[::ffff:192.0.2.7]:99");
    vx_addr_unmap(&ss, &len);
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7:99");
    vx_addr_parse("[2001:db8::1]:5", 0, &ss, &len);
    vx_addr_map(&ss, &len);
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "[2001:db8::1]:5");
}

static void test_raw_ip(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    uint8_t ip[16];
    uint16_t port = 0;
    char out[VX_ADDR_STRLEN];
    static const uint8_t v4[16] = {192, 0, 2, 7};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

    vx_addr_parse("192.0.2.7:99", 0, &ss, &len);
    assert_int_equal(vx_addr_to_ip((struct sockaddr *)&ss, len, ip, &port), 4);
    assert_memory_equal(ip, v4, 16);
    assert_int_equal(port, 99);
    /* IPv4-mapped IPv6 is IPv4. */
    vx_addr_parse("[::ffff:192.0.2.7]:98", 0, &ss, &len);
    assert_int_equal(vx_addr_to_ip((struct sockaddr *)&ss, len, ip, &port), 4);
    assert_memory_equal(ip, v4, 16);
    assert_int_equal(port, 98);
    vx_addr_parse("[2001:db8::1]:5", 0, &ss, &len);
    assert_int_equal(vx_addr_to_ip((struct sockaddr *)&ss, len, ip, &port), 6);
    assert_memory_equal(ip, v6, 16);
    assert_int_equal(port, 5);
    /* Short lengths and unknown families. */
    assert_int_equal(vx_addr_to_ip((struct sockaddr *)&ss, sizeof(struct sockaddr_in), ip, &port),
                     VX_ERR_BADADDR);
    ss.ss_family = AF_UNIX;
    assert_int_equal(vx_addr_to_ip((struct sockaddr *)&ss, sizeof(ss), ip, &port), VX_ERR_BADADDR);
    assert_int_equal(vx_addr_to_ip(NULL, 0, ip, &port), VX_ERR_BADADDR);

    assert_int_equal(vx_addr_from_ip(&ss, &len, 4, v4, 80), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7:80");
    assert_int_equal(vx_addr_from_ip(&ss, &len, 6, v6, 81), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    vx_addr_format((struct sockaddr *)&ss, len, out, sizeof(out));
    assert_string_equal(out, "[2001:db8::1]:81");
    assert_int_equal(vx_addr_from_ip(&ss, &len, 5, v6, 81), VX_ERR_BADADDR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_good),  cmocka_unit_test(test_parse_zone_name),
            cmocka_unit_test(test_parse_bad),   cmocka_unit_test(test_parse_ip),
            cmocka_unit_test(test_format_edge), cmocka_unit_test(test_cmp),
            cmocka_unit_test(test_predicates),  cmocka_unit_test(test_port_unmap),
            cmocka_unit_test(test_map),         cmocka_unit_test(test_raw_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
