/* test_dhtmsg.c — DHT datagram codec: vectors (written out by hand from the
 * format in dhtmsg.h), round trips and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dht/dhtmsg.h"
#include "lib/err.h"
#include "testutil.h"

static const char PING_HEX[] =
        "0101010203040506070811111111111111111111111111111111111111111111111111111111111111110000";
static const char FIND_NODE_HEX[] =
        "0103010203040506070811111111111111111111111111111111111111111111111111111111111111112222"
        "222222222222222222222222222222222222222222222222222222222222";
static const char NODES_HEX[] =
        "0104010203040506070811111111111111111111111111111111111111111111111111111111111111113333"
        "3333333333333333333333333333024444444444444444444444444444444444444444444444444444444444"
        "44444404c0000201109255555555555555555555555555555555555555555555555555555555555555550620"
        "010db80000000000000000000000011093";
static const char STORED_HEX[] =
        "01080102030405060708111111111111111111111111111111111111111111111111111111111111111116";
static const char STORE_HEX[] =
        "0107010203040506070811111111111111111111111111111111111111111111111111111111111111113333"
        "33333333333333333333333333330003616263";

static void header(struct vx_dhtmsg *m, int type)
{
    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)type;
    for (int i = 0; i < 8; i++)
        m->txid[i] = (uint8_t)(i + 1);
    memset(m->sender, 0x11, 32);
}

static void check(const struct vx_dhtmsg *m, const char *hex)
{
    uint8_t want[VX_DHTMSG_MAX], got[VX_DHTMSG_MAX], again[VX_DHTMSG_MAX];
    size_t n = tu_unhex(hex, want, sizeof(want));
    struct vx_dhtmsg d;
    assert_int_equal(vx_dhtmsg_encode(m, got, sizeof(got)), (int)n);
    assert_memory_equal(got, want, n);
    assert_int_equal(vx_dhtmsg_decode(&d, want, n), 0);
    assert_int_equal(d.type, m->type);
    assert_memory_equal(d.txid, m->txid, 8);
    assert_int_equal(vx_dhtmsg_encode(&d, again, sizeof(again)), (int)n);
    assert_memory_equal(again, want, n);
    assert_true(vx_dhtmsg_is_dht(want, n));
    /* Every truncation fails, one trailing byte fails. */
    for (size_t k = 0; k < n; k++)
        assert_int_not_equal(vx_dhtmsg_decode(&d, want, k), 0);
    want[n] = 0;
    assert_int_equal(vx_dhtmsg_decode(&d, want, n + 1), VX_ERR_INVAL);
}

static void test_vectors(void **state)
{
    struct vx_dhtmsg m;
    (void)state;
    header(&m, VX_DHT_PING);
    check(&m, PING_HEX);

    header(&m, VX_DHT_FIND_NODE);
    memset(m.target, 0x22, 32);
    check(&m, FIND_NODE_HEX);

    header(&m, VX_DHT_NODES);
    memset(m.token, 0x33, 16);
    m.n_contacts = 2;
    memset(m.contacts[0].id, 0x44, 32);
    m.contacts[0].addr.family = 4;
    memcpy(m.contacts[0].addr.ip, "\xc0\x00\x02\x01", 4);
    m.contacts[0].addr.port = 4242;
    memset(m.contacts[1].id, 0x55, 32);
    m.contacts[1].addr.family = 6;
    memcpy(m.contacts[1].addr.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    m.contacts[1].addr.port = 4243;
    check(&m, NODES_HEX);

    header(&m, VX_DHT_STORED);
    m.status = (uint8_t)-VX_ERR_BADSIG;
    check(&m, STORED_HEX);

    header(&m, VX_DHT_STORE);
    memset(m.token, 0x33, 16);
    m.rec = (const uint8_t *)"abc";
    m.rec_len = 3;
    check(&m, STORE_HEX);
}

static void test_strict(void **state)
{
    uint8_t b[VX_DHTMSG_MAX + 8];
    struct vx_dhtmsg m;
    size_t n;
    (void)state;

    n = tu_unhex(PING_HEX, b, sizeof(b));
    b[0] = 2;
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_VERSION);
    assert_false(vx_dhtmsg_is_dht(b, n));
    b[0] = 1;
    b[1] = 9;
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_INVAL);
    b[1] = 0;
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_INVAL);

    n = tu_unhex(NODES_HEX, b, sizeof(b));
    b[42 + 16] = 21; /* 21 contacts */
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_TOOBIG);
    n = tu_unhex(NODES_HEX, b, sizeof(b));
    b[42 + 16 + 1 + 32] = 5; /* family 5 */
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_INVAL);
    n = tu_unhex(NODES_HEX, b, sizeof(b));
    b[42 + 16 + 1 + 32 + 1 + 4] = 0; /* port 0 */
    b[42 + 16 + 1 + 32 + 1 + 5] = 0;
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_INVAL);

    /* A STORE with an empty record, and one claiming more than 1200 bytes. */
    n = tu_unhex(STORE_HEX, b, sizeof(b));
    b[42 + 16] = 0;
    b[42 + 16 + 1] = 0;
    assert_int_equal(vx_dhtmsg_decode(&m, b, n - 3), VX_ERR_INVAL);
    b[42 + 16] = 0x04;
    b[42 + 16 + 1] = 0xb1; /* 1201 */
    assert_int_equal(vx_dhtmsg_decode(&m, b, n), VX_ERR_TOOBIG);
    /* Oversize datagram. */
    memset(b, 0, sizeof(b));
    assert_int_equal(vx_dhtmsg_decode(&m, b, VX_DHTMSG_MAX + 1), VX_ERR_TOOBIG);

    /* Encoding refuses what decoding would refuse. */
    header(&m, VX_DHT_NODES);
    m.n_contacts = 21;
    assert_int_equal(vx_dhtmsg_encode(&m, b, sizeof(b)), VX_ERR_TOOBIG);
    m.n_contacts = 1;
    assert_int_equal(vx_dhtmsg_encode(&m, b, sizeof(b)), VX_ERR_INVAL); /* family 0 */
    header(&m, VX_DHT_VALUE);
    assert_int_equal(vx_dhtmsg_encode(&m, b, sizeof(b)), VX_ERR_INVAL); /* no record */
    assert_int_equal(vx_dhtmsg_encode(&m, b, 10), VX_ERR_TOOBIG);
}

static void test_addr(void **state)
{
    struct vx_dhtaddr a = {.family = 6, .port = 1}, b = {.family = 6, .port = 1};
    char s[64];
    (void)state;
    memcpy(a.ip, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\x01", 16);
    memcpy(b.ip, "\x20\x01\x0d\xb8\x00\x01\xff\0\0\0\0\0\0\0\0\x02", 16);
    assert_true(vx_dhtaddr_same_prefix(&a, &b)); /* same /48 */
    b.ip[5] = 2;
    assert_false(vx_dhtaddr_same_prefix(&a, &b));
    assert_false(vx_dhtaddr_equal(&a, &b));
    vx_dhtaddr_format(&a, s, sizeof(s));
    assert_string_equal(s, "[2001:db8:1::1]:1");
    struct vx_dhtaddr c = {.family = 4, .ip = {10, 1, 2, 3}, .port = 80};
    struct vx_dhtaddr d = {.family = 4, .ip = {10, 1, 2, 200}, .port = 81};
    assert_true(vx_dhtaddr_same_prefix(&c, &d)); /* same /24 */
    d.ip[2] = 9;
    assert_false(vx_dhtaddr_same_prefix(&c, &d));
    vx_dhtaddr_format(&c, s, sizeof(s));
    assert_string_equal(s, "10.1.2.3:80");
    c.ip[0] = 127;
    assert_true(vx_dhtaddr_is_loopback(&c));
}

/* sockaddr conversions: IPv4-mapped IPv6 comes in as IPv4; IPv4 goes out
 * mapped on a dual-stack socket. */
static void test_addr_sockaddr(void **state)
{
    struct vx_dhtaddr a, b;
    struct sockaddr_storage ss;
    socklen_t len;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(4242)};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(4243)};
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    (void)state;

    memcpy(&s4.sin_addr, mapped + 12, 4);
    assert_int_equal(vx_dhtaddr_from_sockaddr(&a, (struct sockaddr *)&s4, sizeof(s4)), 0);
    assert_int_equal(a.family, 4);
    assert_int_equal(a.port, 4242);
    assert_memory_equal(a.ip, mapped + 12, 4);
    assert_memory_equal(a.ip + 4, (uint8_t[12]){0}, 12);
    vx_dhtaddr_to_sockaddr(&a, 0, &ss, &len);
    assert_int_equal(len, sizeof(s4));
    assert_memory_equal(&ss, &s4, sizeof(s4));
    vx_dhtaddr_to_sockaddr(&a, 1, &ss, &len);
    assert_int_equal(len, sizeof(s6));
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_memory_equal(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, mapped, 16);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 4242);

    memcpy(s6.sin6_addr.s6_addr, mapped, 16);
    assert_int_equal(vx_dhtaddr_from_sockaddr(&b, (struct sockaddr *)&s6, sizeof(s6)), 0);
    assert_int_equal(b.family, 4);
    assert_int_equal(b.port, 4243);
    assert_memory_equal(b.ip, mapped + 12, 4);

    memcpy(s6.sin6_addr.s6_addr, v6, 16);
    assert_int_equal(vx_dhtaddr_from_sockaddr(&b, (struct sockaddr *)&s6, sizeof(s6)), 0);
    assert_int_equal(b.family, 6);
    assert_memory_equal(b.ip, v6, 16);
    vx_dhtaddr_to_sockaddr(&b, 0, &ss, &len);
    assert_int_equal(len, sizeof(s6));
    assert_memory_equal(&ss, &s6, sizeof(s6));
    vx_dhtaddr_to_sockaddr(&b, 1, &ss, &len);
    assert_memory_equal(&ss, &s6, sizeof(s6));

    assert_int_equal(vx_dhtaddr_from_sockaddr(&b, (struct sockaddr *)&s6, sizeof(s4)),
                     VX_ERR_BADADDR);
    assert_int_equal(vx_dhtaddr_from_sockaddr(&b, (struct sockaddr *)&s4, sizeof(s4) - 1),
                     VX_ERR_BADADDR);
    s4.sin_family = AF_UNIX;
    assert_int_equal(vx_dhtaddr_from_sockaddr(&b, (struct sockaddr *)&s4, sizeof(s4)),
                     VX_ERR_BADADDR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_strict),
            cmocka_unit_test(test_addr),
            cmocka_unit_test(test_addr_sockaddr),
    };
    return cmocka_run_group_tests_name("dhtmsg", tests, NULL, NULL);
}
