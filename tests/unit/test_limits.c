/* test_limits.c — connection counting and token buckets by prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/limits.h"

/* Parse "1.2.3.4" or "2001:db8::1" into a sockaddr_storage. */
static const struct sockaddr *A(struct sockaddr_storage *ss, const char *s)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(s, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, s, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, s, &in->sin_addr), 1);
    }
    return (const struct sockaddr *)ss;
}

static void test_prefix(void **state)
{
    struct sockaddr_storage a, b;
    struct vx_prefix p, q;
    (void)state;
    assert_int_equal(vx_prefix_from_sockaddr(A(&a, "10.1.2.3"), 24, 64, &p), 0);
    assert_int_equal(p.family, AF_INET);
    assert_int_equal(p.bits, 24);
    assert_memory_equal(p.addr, "\x0a\x01\x02\x00", 4);
    /* IPv4-mapped IPv6 is IPv4 */
    assert_int_equal(vx_prefix_from_sockaddr(A(&b, "::ffff:10.1.2.99"), 24, 64, &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    assert_int_equal(vx_prefix_from_sockaddr(A(&a, "2001:db8:1:2:3:4:5:6"), 32, 60, &p), 0);
    assert_int_equal(p.family, AF_INET6);
    assert_int_equal(p.bits, 60);
    assert_memory_equal(p.addr, "\x20\x01\x0d\xb8\x00\x01\x00\x00\0\0\0\0\0\0\0\0", 16);
    /* bit counts past the address length are clamped */
    assert_int_equal(vx_prefix_from_sockaddr(A(&a, "10.1.2.3"), 99, 999, &p), 0);
    assert_int_equal(p.bits, 32);
    assert_memory_equal(p.addr, "\x0a\x01\x02\x03", 4);
    a.ss_family = AF_UNIX;
    assert_int_equal(vx_prefix_from_sockaddr((struct sockaddr *)&a, 32, 64, &p), VX_ERR_BADADDR);
}

static void test_connlimit(void **state)
{
    struct vx_connlimit *cl = vx_connlimit_new(5, 2);
    struct sockaddr_storage a, b, c, d;
    (void)state;
    A(&a, "192.0.2.1");
    A(&b, "2001:db8::1");
    A(&c, "2001:db8::ffff:2"); /* same /64 as b */
    A(&d, "2001:db8:0:1::1");  /* another /64 */

    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&a), 0);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&a), 0);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&a), VX_ERR_LIMIT);
    assert_int_equal(vx_connlimit_count(cl, (struct sockaddr *)&a), 2);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&b), 0);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&c), 0);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&c), VX_ERR_LIMIT);
    assert_int_equal(vx_connlimit_count(cl, (struct sockaddr *)&b), 2);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&d), 0);
    assert_int_equal(vx_connlimit_total(cl), 5);
    assert_int_equal(vx_connlimit_clients(cl), 3);
    /* total reached: even a new client is refused */
    struct sockaddr_storage e;
    assert_int_equal(vx_connlimit_acquire(cl, A(&e, "198.51.100.7")), VX_ERR_LIMIT);
    assert_int_equal(vx_connlimit_count(cl, (struct sockaddr *)&e), 0);

    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&c), 0); /* b's /64 */
    assert_int_equal(vx_connlimit_count(cl, (struct sockaddr *)&b), 1);
    assert_int_equal(vx_connlimit_acquire(cl, (struct sockaddr *)&e), 0);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&e), 0);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&e), VX_ERR_NOTFOUND);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&a), 0);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&a), 0);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&b), 0);
    assert_int_equal(vx_connlimit_release(cl, (struct sockaddr *)&d), 0);
    assert_int_equal(vx_connlimit_total(cl), 0);
    assert_int_equal(vx_connlimit_clients(cl), 0);
    vx_connlimit_free(cl);
    vx_connlimit_free(NULL);
}

/* Many distinct clients cycling through a small table: entries are reused
 * and counts stay exact. */
static void test_connlimit_churn(void **state)
{
    struct vx_connlimit *cl = vx_connlimit_new(64, 3);
    struct sockaddr_storage ss;
    char s[64];
    (void)state;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            snprintf(s, sizeof(s), "10.%d.%d.1", round, i / 3);
            assert_int_equal(vx_connlimit_acquire(cl, A(&ss, s)), 0);
        }
        assert_int_equal(vx_connlimit_acquire(cl, A(&ss, "10.255.0.1")), VX_ERR_LIMIT);
        assert_int_equal(vx_connlimit_clients(cl), 22);
        for (int i = 0; i < 64; i++) {
            snprintf(s, sizeof(s), "10.%d.%d.1", round, i / 3);
            assert_int_equal(vx_connlimit_release(cl, A(&ss, s)), 0);
        }
        assert_int_equal(vx_connlimit_total(cl), 0);
    }
    vx_connlimit_free(cl);
}

static void test_ratelimit_bucket(void **state)
{
    struct vx_ratelimit_cfg cfg = {
            .rate = 10, .burst = 5, .max_keys = 16, .v4_bits = 24, .v6_bits = 48};
    struct vx_ratelimit *rl = vx_ratelimit_new(&cfg);
    struct sockaddr_storage a, b, c;
    struct vx_ratelimit_stats st;
    uint64_t t = 1000;
    (void)state;
    A(&a, "203.0.113.5");
    A(&b, "203.0.113.200"); /* same /24 */
    A(&c, "203.0.114.1");
    for (int i = 0; i < 5; i++)
        assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)(i % 2 ? &a : &b), t), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, t), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&c, t), 0); /* own bucket */
    /* 10/s: one token per 100 ms */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t + 99), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t + 100), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t + 100), VX_ERR_LIMIT);
    /* a long pause refills to the burst, no more */
    t += 1000000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t), VX_ERR_LIMIT);
    /* the clock going backwards adds nothing */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, t - 5000), VX_ERR_LIMIT);
    vx_ratelimit_get_stats(rl, &st);
    assert_int_equal(st.allowed, 12);
    assert_int_equal(st.limited, 6);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(vx_ratelimit_allow(rl, NULL, t), VX_ERR_BADADDR);
    vx_ratelimit_free(rl);
    vx_ratelimit_free(NULL);
}

static void test_ratelimit_fractional_and_v6(void **state)
{
    struct vx_ratelimit_cfg cfg = {
            .rate = 0.5, .burst = 1, .max_keys = 4, .v4_bits = 32, .v6_bits = 64};
    struct vx_ratelimit *rl = vx_ratelimit_new(&cfg);
    struct sockaddr_storage a, b;
    (void)state;
    A(&a, "2001:db8:1:2::1");
    A(&b, "2001:db8:1:2:ffff::9"); /* same /64 */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, 0), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, 1999), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, 2000), 0);
    vx_ratelimit_free(rl);
}

static void test_ratelimit_lru(void **state)
{
    struct vx_ratelimit_cfg cfg = {.rate = 1, .burst = 1, .max_keys = 3, .v4_bits = 32};
    struct vx_ratelimit *rl = vx_ratelimit_new(&cfg);
    struct sockaddr_storage a, b, c, d;
    struct vx_ratelimit_stats st;
    (void)state;
    A(&a, "192.0.2.1");
    A(&b, "192.0.2.2");
    A(&c, "192.0.2.3");
    A(&d, "192.0.2.4");
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, 0), 0);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&c, 0), 0);
    /* touch a: b is now the least recently used */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, 0), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&d, 0), 0); /* evicts b */
    vx_ratelimit_get_stats(rl, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.keys, 3);
    /* a and c are still remembered as empty, b starts over */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, 0), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&b, 0), 0); /* evicts c */
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&d, 0), VX_ERR_LIMIT);
    assert_int_equal(vx_ratelimit_allow(rl, (struct sockaddr *)&a, 0), VX_ERR_LIMIT);
    /* many keys through a tiny table stay consistent */
    for (int i = 0; i < 2000; i++) {
        char s[32];
        snprintf(s, sizeof(s), "10.0.%d.%d", i / 250, i % 250);
        assert_int_equal(vx_ratelimit_allow(rl, A(&a, s), 5), 0);
        assert_int_equal(vx_ratelimit_allow(rl, A(&a, s), 5), VX_ERR_LIMIT);
    }
    vx_ratelimit_get_stats(rl, &st);
    assert_int_equal(st.keys, 3);
    assert_int_equal(st.evicted, 2 + 2000);
    vx_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_prefix),
            cmocka_unit_test(test_connlimit),
            cmocka_unit_test(test_connlimit_churn),
            cmocka_unit_test(test_ratelimit_bucket),
            cmocka_unit_test(test_ratelimit_fractional_and_v6),
            cmocka_unit_test(test_ratelimit_lru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
