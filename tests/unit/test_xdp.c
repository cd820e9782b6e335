/* test_xdp.c — the XDP classifier on hand-built packets (BPF_PROG_TEST_RUN).
 *
 * Needs root (CAP_BPF + CAP_NET_ADMIN) to load the program; exits 77 with a
 * reason otherwise.  Built without XDP, it checks that the API says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/xdp.h"
#include "lib/err.h"
#include "lib/log.h"

#ifdef HAVE_XDP
#include <bpf/bpf.h>
#include <linux/bpf.h>

/* What to build: Ethernet [+ VLANs] + IPv4/IPv6 [+ options/ext hdrs] + L4. */
struct spec {
    int v6;
    const char *src;
    int vlans;
    int proto; /* 17 UDP, 6 TCP */
    uint16_t dport;
    const uint8_t *payload;
    size_t plen;
    int udp_len_delta; /* added to the UDP length field */
    int l4_cut;        /* bytes of the L4 part actually present (0 = all) */
    int v4_opts;       /* IPv4 option words (4 bytes each) */
    int v6_ext;        /* IPv6 destination-options headers before L4 */
    uint16_t frag_off; /* IPv4 frag_off field, host order */
};

/* A DHT PING header (src/dht/dhtmsg.h): version 1, type 1, txid, sender. */
static const uint8_t dht[44] = {0x01, 0x01, 't', 'x', 'i', 'd', '0', '0', '0', '1'};
static uint8_t quic[40];
static uint8_t quic_greased[40]; /* short header, fixed bit cleared (RFC 9287) */
static const uint8_t dht_long[64] = {0x01, 0x03};

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t build(uint8_t *buf, const struct spec *s)
{
    size_t off = 12, l3, l4, l4len;
    uint8_t *ip;

    memset(buf, 0, 1600);
    memset(buf, 0x02, 12); /* dst/src MACs */
    for (int i = 0; i < s->vlans; i++) {
        off += put16(buf + off, i == 0 && s->vlans > 1 ? 0x88a8 : 0x8100);
        off += put16(buf + off, (uint16_t)(100 + i));
    }
    off += put16(buf + off, s->v6 ? 0x86dd : 0x0800);
    l3 = off;
    ip = buf + l3;
    l4len = (s->proto == 17 ? 8 : 20) + s->plen;
    if (s->v6) {
        ip[0] = 0x60;
        ip[6] = s->v6_ext ? 60 : (uint8_t)s->proto;
        ip[7] = 64;
        assert_int_equal(inet_pton(AF_INET6, s->src, ip + 8), 1);
        inet_pton(AF_INET6, "2001:db8::1", ip + 24);
        off += 40;
        for (int i = 0; i < s->v6_ext; i++) {
            buf[off] = i + 1 < s->v6_ext ? 60 : (uint8_t)s->proto;
            buf[off + 1] = 0; /* 8 bytes: PadN option fills it */
            buf[off + 2] = 1;
            buf[off + 3] = 4;
            off += 8;
        }
        put16(ip + 4, (uint16_t)(off - l3 - 40 + l4len));
    } else {
        ip[0] = (uint8_t)(0x45 + s->v4_opts);
        ip[8] = 64;
        ip[9] = (uint8_t)s->proto;
        put16(ip + 6, s->frag_off);
        assert_int_equal(inet_pton(AF_INET, s->src, ip + 12), 1);
        inet_pton(AF_INET, "192.0.2.1", ip + 16);
        off += 20;
        for (int i = 0; i < s->v4_opts; i++, off += 4)
            buf[off] = 1; /* NOP */
        put16(ip + 2, (uint16_t)(off - l3 + l4len));
    }
    l4 = off;
    put16(buf + l4, 40000);
    put16(buf + l4 + 2, s->dport);
    if (s->proto == 17) {
        put16(buf + l4 + 4, (uint16_t)(l4len + s->udp_len_delta));
        off += 8;
    } else {
        buf[l4 + 12] = 0x50;
        buf[l4 + 13] = 0x02; /* SYN */
        off += 20;
    }
    if (s->plen)
        memcpy(buf + off, s->payload, s->plen);
    off += s->plen;
    if (s->l4_cut)
        off = l4 + (size_t)s->l4_cut;
    else if (off < 60)
        off = 60; /* Ethernet minimum: padding after the IP datagram */
    return off;
}

static int run(struct vx_xdp *x, const struct spec *s)
{
    uint8_t buf[1600];
    LIBBPF_OPTS(bpf_test_run_opts, opts);

    opts.data_in = buf;
    opts.data_size_in = (uint32_t)build(buf, s);
    opts.repeat = 1;
    assert_int_equal(bpf_prog_test_run_opts(vx_xdp_prog_fd(x), &opts), 0);
    return (int)opts.retval;
}

static struct vx_xdp_counters counters(struct vx_xdp *x)
{
    struct vx_xdp_counters c;

    assert_int_equal(vx_xdp_counters(x, &c), 0);
    return c;
}

static int setup(void **state)
{
    struct vx_xdp_limits lim;
    struct vx_xdp *x;

    vx_xdp_limits_default(&lim);
    assert_int_equal(vx_xdp_load(&lim, &x), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(vx_xdp_detach(*state), 0);
    return 0;
}

#define UDP6(src_, pl_, n_)                                                                        \
    {                                                                                              \
        .v6 = 1, .src = (src_), .proto = 17, .dport = 4242, .payload = (pl_), .plen = (n_)         \
    }
#define UDP4(src_, pl_, n_)                                                                        \
    {                                                                                              \
        .v6 = 0, .src = (src_), .proto = 17, .dport = 4242, .payload = (pl_), .plen = (n_)         \
    }

static void test_classes(void **state)
{
    struct vx_xdp *x = *state;
    struct spec d6 = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec q4 = UDP4("198.51.100.2", quic, sizeof(quic));
    struct spec q6g = UDP6("2001:db8:1::2", quic_greased, sizeof(quic_greased));
    struct spec t6 = {.v6 = 1, .src = "2001:db8:1::2", .proto = 6, .dport = 4242};
    struct spec t4other = {.src = "198.51.100.2", .proto = 6, .dport = 80};
    struct spec u6other = UDP6("2001:db8:1::2", dht, 1);
    struct vx_xdp_counters c;
    size_t d6len;
    uint8_t buf[1600];

    u6other.dport = 53; /* short, but not to our port: untouched */
    assert_int_equal(run(x, &d6), XDP_PASS);
    assert_int_equal(run(x, &d6), XDP_PASS);
    assert_int_equal(run(x, &q4), XDP_PASS);
    assert_int_equal(run(x, &q6g), XDP_PASS);
    assert_int_equal(run(x, &t6), XDP_PASS);
    assert_int_equal(run(x, &t4other), XDP_PASS);
    assert_int_equal(run(x, &u6other), XDP_PASS);
    c = counters(x);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].packets, 2);
    assert_int_equal(c.passed[VX_XDP_CLASS_QUIC].packets, 2);
    assert_int_equal(c.passed[VX_XDP_CLASS_TCP].packets, 1);
    assert_int_equal(c.passed[VX_XDP_CLASS_OTHER].packets, 2);
    d6len = build(buf, &d6);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].bytes, 2 * d6len);
    for (int i = 0; i < VX_XDP_DROP_COUNT; i++)
        assert_int_equal(c.dropped[i].packets, 0);
}

static void test_vlan_options_exthdrs(void **state)
{
    struct vx_xdp *x = *state;
    struct spec v1 = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec v2 = UDP6("2001:db8:1::2", quic, sizeof(quic));
    struct spec v3 = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec opts4 = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec ext6 = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec ext6deep = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct vx_xdp_counters c;

    v1.vlans = 1;
    v2.vlans = 2;
    v3.vlans = 3; /* deeper than the parser goes: other */
    opts4.v4_opts = 3;
    ext6.v6_ext = 2;
    ext6deep.v6_ext = 7;
    assert_int_equal(run(x, &v1), XDP_PASS);
    assert_int_equal(run(x, &v2), XDP_PASS);
    assert_int_equal(run(x, &v3), XDP_PASS);
    assert_int_equal(run(x, &opts4), XDP_PASS);
    assert_int_equal(run(x, &ext6), XDP_PASS);
    assert_int_equal(run(x, &ext6deep), XDP_PASS);
    c = counters(x);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].packets, 3);
    assert_int_equal(c.passed[VX_XDP_CLASS_QUIC].packets, 1);
    assert_int_equal(c.passed[VX_XDP_CLASS_OTHER].packets, 2);
}

static void test_malformed_udp(void **state)
{
    struct vx_xdp *x = *state;
    struct spec longlen = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec shortlen = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec trunc = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec trunc6 = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec cutpayload = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec tiny_dht = UDP6("2001:db8:1::2", dht, 2);
    struct spec tiny_quic = UDP4("198.51.100.2", quic, 10);
    struct spec empty = UDP4("198.51.100.2", dht, 0);
    struct vx_xdp_counters c;

    longlen.udp_len_delta = 1;
    shortlen.udp_len_delta = -1;
    trunc.l4_cut = 6; /* IP claims the full datagram; 6 bytes arrive */
    trunc6.l4_cut = 6;
    cutpayload.l4_cut = 12; /* UDP header complete, payload cut short */
    assert_int_equal(run(x, &longlen), XDP_DROP);
    assert_int_equal(run(x, &shortlen), XDP_DROP);
    assert_int_equal(run(x, &trunc), XDP_DROP);
    assert_int_equal(run(x, &trunc6), XDP_DROP);
    assert_int_equal(run(x, &cutpayload), XDP_DROP);
    assert_int_equal(run(x, &tiny_dht), XDP_DROP);
    assert_int_equal(run(x, &tiny_quic), XDP_DROP);
    assert_int_equal(run(x, &empty), XDP_DROP);
    c = counters(x);
    assert_int_equal(c.dropped[VX_XDP_DROP_UDP_LEN].packets, 3);
    assert_int_equal(c.dropped[VX_XDP_DROP_UDP_TRUNC].packets, 2);
    assert_int_equal(c.dropped[VX_XDP_DROP_SHORT].packets, 3);
    for (int i = 0; i < VX_XDP_CLASS_COUNT; i++)
        assert_int_equal(c.passed[i].packets, 0);
}

static void test_fragments(void **state)
{
    struct vx_xdp *x = *state;
    struct spec first = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec later = UDP4("198.51.100.2", dht, 1);
    struct vx_xdp_counters c;

    first.frag_off = 0x2000; /* MF: the UDP length covers more than arrived */
    first.udp_len_delta = 1000;
    later.frag_off = 0x0010; /* offset 128: no UDP header here */
    assert_int_equal(run(x, &first), XDP_PASS);
    assert_int_equal(run(x, &later), XDP_PASS);
    c = counters(x);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].packets, 1);
    assert_int_equal(c.passed[VX_XDP_CLASS_OTHER].packets, 1);
}

static void test_blocklist(void **state)
{
    struct vx_xdp *x = *state;
    struct spec bad6 = {.v6 = 1, .src = "2001:db8:bad:1::7", .proto = 6, .dport = 80};
    struct spec good6 = UDP6("2001:db8:bad0::7", dht, sizeof(dht));
    struct spec bad4 = UDP4("203.0.113.9", dht, sizeof(dht));
    struct vx_xdp_block_entry e[4];
    struct vx_xdp_counters c;
    int n;

    assert_int_equal(vx_xdp_block(x, "2001:db8:bad::/48"), 0);
    assert_int_equal(vx_xdp_block(x, "203.0.113.0/24"), 0);
    assert_int_equal(vx_xdp_block(x, "203.0.113.0/24"), 0); /* idempotent */
    assert_int_equal(vx_xdp_block(x, "nonsense"), VX_ERR_BADADDR);
    assert_int_equal(vx_xdp_block(x, "10.0.0.0/33"), VX_ERR_BADADDR);
    assert_int_equal(run(x, &bad6), XDP_DROP); /* any port, any protocol */
    assert_int_equal(run(x, &bad4), XDP_DROP);
    assert_int_equal(run(x, &good6), XDP_PASS);
    c = counters(x);
    assert_int_equal(c.dropped[VX_XDP_DROP_BLOCKED].packets, 2);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].packets, 1);

    n = vx_xdp_block_list(x, e, 4);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) {
        assert_true(strcmp(e[i].prefix, "2001:db8:bad::/48") == 0 ||
                    strcmp(e[i].prefix, "203.0.113.0/24") == 0);
        assert_int_equal(e[i].hits, 1);
    }
    assert_int_equal(vx_xdp_unblock(x, "203.0.113.77/24"), 0); /* host bits ignored */
    assert_int_equal(vx_xdp_unblock(x, "203.0.113.0/24"), VX_ERR_NOTFOUND);
    assert_int_equal(run(x, &bad4), XDP_PASS);
    assert_int_equal(vx_xdp_block_list(x, e, 4), 1);
}

static void test_rate_limit(void **state)
{
    struct vx_xdp *x = *state;
    struct vx_xdp_limits lim = {.node_port = 4242, .udp_rate_pps = 1, .udp_burst = 5};
    struct spec a1 = UDP6("2001:db8:a:1::1", dht, sizeof(dht));
    struct spec a2 = UDP6("2001:db8:a:1::2", quic, sizeof(quic)); /* same /64 */
    struct spec b = UDP6("2001:db8:a:2::1", dht, sizeof(dht));    /* next /64 */
    struct spec v4 = UDP4("198.51.100.2", dht, sizeof(dht));
    struct spec tcp = {.v6 = 1, .src = "2001:db8:a:1::1", .proto = 6, .dport = 4242};
    struct vx_xdp_counters c;
    int passed = 0;

    assert_int_equal(vx_xdp_set_limits(x, &lim), 0);
    for (int i = 0; i < 10; i++)
        passed += run(x, i % 2 ? &a2 : &a1) == XDP_PASS;
    assert_int_equal(passed, 5);
    assert_int_equal(run(x, &b), XDP_PASS);
    assert_int_equal(run(x, &v4), XDP_PASS);
    assert_int_equal(run(x, &tcp), XDP_PASS); /* TCP is not rate limited here */
    c = counters(x);
    assert_int_equal(c.dropped[VX_XDP_DROP_RATE].packets, 5);

    lim.udp_rate_pps = 0; /* off */
    assert_int_equal(vx_xdp_set_limits(x, &lim), 0);
    assert_int_equal(run(x, &a1), XDP_PASS);
}

static void test_rule_table_and_port(void **state)
{
    struct vx_xdp *x = *state;
    struct vx_xdp_limits lim = {.node_port = 5000, .udp_rate_pps = 0, .udp_burst = 1};
    struct vx_xdp_rule rules[VX_XDP_MAX_RULES];
    struct spec d = UDP6("2001:db8:1::2", dht, sizeof(dht));
    struct spec d5000 = UDP6("2001:db8:1::2", dht_long, sizeof(dht_long));
    size_t n = vx_xdp_default_rules(rules, VX_XDP_MAX_RULES);
    struct vx_xdp_counters c;

    d5000.dport = 5000;
    assert_int_equal(vx_xdp_set_limits(x, &lim), 0);
    assert_int_equal(run(x, &d), XDP_PASS);     /* 4242 is no longer ours */
    assert_int_equal(run(x, &d5000), XDP_PASS); /* DHT */
    /* With the DHT rule rewritten for another version byte, a 0x01 header
     * falls through to the QUIC rule, as a greased short header would. */
    rules[0].value[0] = 0x02;
    assert_int_equal(vx_xdp_set_rules(x, rules, n), 0);
    assert_int_equal(run(x, &d5000), XDP_PASS);
    c = counters(x);
    assert_int_equal(c.passed[VX_XDP_CLASS_OTHER].packets, 1);
    assert_int_equal(c.passed[VX_XDP_CLASS_DHT].packets, 1);
    assert_int_equal(c.passed[VX_XDP_CLASS_QUIC].packets, 1);
    /* Invalid tables are refused. */
    rules[0].value[0] = 0x57;
    rules[0].mask[0] = 0x0f;
    assert_int_equal(vx_xdp_set_rules(x, rules, n), VX_ERR_INVAL);
    assert_int_equal(vx_xdp_set_rules(x, rules, VX_XDP_MAX_RULES + 1), VX_ERR_TOOBIG);
    lim.node_port = 0;
    assert_int_equal(vx_xdp_set_limits(x, &lim), VX_ERR_INVAL);
}

static void test_attach_errors(void **state)
{
    struct vx_xdp *y = NULL;

    (void)state;
    assert_int_equal(vx_xdp_attach("vx6-no-such-if", VX_XDP_MODE_GENERIC, NULL, &y),
                     VX_ERR_NOTFOUND);
    assert_null(y);
    assert_non_null(strstr(vx_xdp_last_error(), "no such interface"));
    assert_int_equal(vx_xdp_open("lo", &y), VX_ERR_NOTFOUND);
    assert_null(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_classes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_vlan_options_exthdrs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_malformed_udp, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
            cmocka_unit_test_setup_teardown(test_blocklist, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rule_table_and_port, setup, teardown),
            cmocka_unit_test(test_attach_errors),
    };
    struct vx_xdp *probe = NULL;
    int err;

    vx_log_set_level(VX_LOG_ERR);
    if (geteuid() != 0) {
        printf("SKIP: loading XDP programs needs root (CAP_BPF, CAP_NET_ADMIN)\n");
        return 77;
    }
    err = vx_xdp_load(NULL, &probe);
    if (err == VX_ERR_PERM) {
        printf("SKIP: %s\n", vx_xdp_last_error());
        return 77;
    }
    vx_xdp_close(probe);
    memset(quic, 0, sizeof(quic));
    quic[0] = 0x40 | 0x01; /* short header, 2-byte packet number */
    memset(quic_greased, 0x5a, sizeof(quic_greased));
    quic_greased[0] = 0x21; /* short header, spin bit, no fixed bit */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* !HAVE_XDP */

static void test_reports_no_xdp(void **state)
{
    struct vx_xdp *x = (struct vx_xdp *)1;
    struct vx_xdp_counters c;

    (void)state;
    assert_int_equal(vx_xdp_available(), 0);
    assert_int_equal(vx_xdp_attach("lo", VX_XDP_MODE_GENERIC, NULL, &x), VX_ERR_NOTFOUND);
    assert_null(x);
    assert_non_null(strstr(vx_xdp_last_error(), "built without XDP support"));
    assert_int_equal(vx_xdp_counters(NULL, &c), VX_ERR_NOTFOUND);
    assert_int_equal(vx_xdp_detach(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reports_no_xdp)};

    vx_log_set_level(VX_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
