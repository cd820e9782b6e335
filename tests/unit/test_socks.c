/* test_socks.c — SOCKS4/4a/5 server parser: every path, byte-exact vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "front/errors.h"
#include "front/sniff.h"
#include "front/socks.h"
#include "lib/err.h"

#define V(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

struct run {
    int rc;
    size_t consumed;
    uint8_t out[256];
    size_t outlen;
};

/* Feed msg in chunks of `chunk` bytes (0 = all at once), collecting output,
 * stopping at the first non-MORE result. */
static void feed(struct vx_socks *s, const uint8_t *msg, size_t len, size_t chunk, struct run *r)
{
    size_t off = 0;
    memset(r, 0, sizeof(*r));
    r->rc = VX_SOCKS_MORE;
    while (off < len) {
        size_t n = chunk && chunk < len - off ? chunk : len - off, used = 0, ol;
        const uint8_t *o;
        r->rc = vx_socks_feed(s, msg + off, n, &used);
        assert_true(used <= n);
        off += used;
        o = vx_socks_output(s, &ol);
        assert_true(r->outlen + ol <= sizeof(r->out));
        memcpy(r->out + r->outlen, o, ol);
        r->outlen += ol;
        vx_socks_output_clear(s);
        if (r->rc != VX_SOCKS_MORE)
            break;
        assert_int_equal(used, n);
    }
    r->consumed = off;
}

static void expect_out(const struct run *r, const uint8_t *want, size_t wlen)
{
    assert_int_equal(r->outlen, wlen);
    assert_memory_equal(r->out, want, wlen);
}

/* Each test runs at chunk sizes 0 (whole), 1, 2, 3 and 7. */
static const size_t chunks[] = {0, 1, 2, 3, 7};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

static void test_v5_ipv4(void **state)
{
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01,
                                  192,  0,    2,    1,    0x1f, 0x90};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        assert_null(vx_socks_request(&s));
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        assert_int_equal(r.consumed, sizeof(msg));
        expect_out(&r, V(0x05, 0x00));
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_non_null(q);
        assert_int_equal(q->version, 5);
        assert_int_equal(q->atyp, VX_SOCKS_ATYP_IPV4);
        assert_string_equal(q->host, "192.0.2.1");
        assert_int_equal(q->port, 8080);
        assert_int_equal(q->has_auth, 0);
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&q->addr;
        assert_int_equal(sin->sin_family, AF_INET);
        assert_int_equal(ntohs(sin->sin_port), 8080);
        assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);
    }
}

static void test_v5_ipv6(void **state)
{
    /* offers 0x00 and 0x01 (GSSAPI, unsupported): no-auth is chosen */
    static const uint8_t msg[] = {0x05, 0x02, 0x01, 0x00, 0x05, 0x01, 0x00, 0x04, 0x20,
                                  0x01, 0x0d, 0xb8, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0x01, 0x00, 0x16};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        expect_out(&r, V(0x05, 0x00));
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->atyp, VX_SOCKS_ATYP_IPV6);
        assert_string_equal(q->host, "2001:db8::1");
        assert_int_equal(q->port, 22);
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&q->addr;
        assert_int_equal(sin6->sin6_family, AF_INET6);
        assert_int_equal(ntohs(sin6->sin6_port), 22);
        assert_int_equal(sin6->sin6_addr.s6_addr[15], 1);
    }
}

static void test_v5_domain_early_data(void **state)
{
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 13,  'a',
                                  'l',  'i',  'c',  'e',  '.',  'w',  'e',  'b', '.',
                                  'v',  'x',  '6',  0x00, 0x50, 'G',  'E',  'T', ' '};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        assert_int_equal(r.consumed, sizeof(msg) - 4); /* "GET " stays for the tunnel */
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->atyp, VX_SOCKS_ATYP_DOMAIN);
        assert_string_equal(q->host, "alice.web.vx6");
        assert_int_equal(q->port, 80);
        assert_int_equal(q->addr.ss_family, AF_UNSPEC);
        /* Feeding after the request is a caller bug. */
        size_t used = 99;
        assert_int_equal(vx_socks_feed(&s, msg, 1, &used), VX_ERR_INVAL);
        assert_int_equal(used, 0);
    }
}

static void test_v5_domain_max(void **state)
{
    uint8_t msg[3 + 5 + 255 + 2];
    size_t n = 0;
    msg[n++] = 5, msg[n++] = 1, msg[n++] = 0;
    msg[n++] = 5, msg[n++] = 1, msg[n++] = 0, msg[n++] = 3, msg[n++] = 255;
    memset(msg + n, 'x', 255);
    n += 255;
    msg[n++] = 0x01, msg[n++] = 0xbb;
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, msg, n, 1, &r);
    assert_int_equal(r.rc, VX_SOCKS_REQUEST);
    assert_int_equal(strlen(vx_socks_request(&s)->host), 255);
    assert_int_equal(vx_socks_request(&s)->port, 443);
}

static void test_v5_userpass_ok(void **state)
{
    struct vx_socks_opts o = {.username = "bob", .password = "s3cret"};
    static const uint8_t msg[] = {0x05, 0x02, 0x00, 0x02, 0x01, 3,   'b',  'o',
                                  'b',  6,    's',  '3',  'c',  'r', 'e',  't',
                                  0x05, 0x01, 0x00, 0x03, 0x01, 'x', 0x00, 0x16};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, &o);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        expect_out(&r, V(0x05, 0x02, 0x01, 0x00));
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->has_auth, 1);
        assert_string_equal(q->username, "bob");
        assert_string_equal(q->password, "s3cret");
        assert_string_equal(q->host, "x");
    }
}

/* Without socks_auth a client offering 0x00 and 0x02 (curl --proxy-user)
 * gets 0x02: its username carries per-request options, any one is fine. */
static void test_v5_userpass_options(void **state)
{
    static const uint8_t msg[] = {0x05, 0x02, 0x00, 0x02, 0x01, 11,  'r',  'o',  'u',  't',
                                  'e',  '=',  'r',  'e',  'l',  'a', 'y',  1,    'x',  0x05,
                                  0x01, 0x00, 0x03, 0x01, 'x',  0x00, 0x16};
    (void)state;
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        expect_out(&r, V(0x05, 0x02, 0x01, 0x00));
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->has_auth, 1);
        assert_string_equal(q->username, "route=relay");
    }
}

static void test_v5_userpass_wrong(void **state)
{
    struct vx_socks_opts o = {.username = "bob", .password = "s3cret"};
    static const uint8_t wrong_pass[] = {0x05, 0x01, 0x02, 0x01, 3,   'b', 'o', 'b',
                                         6,    's',  '3',  'c',  'r', 'e', 'T'};
    static const uint8_t long_user[] = {0x05, 0x01, 0x02, 0x01, 4,   'b', 'o', 'b',
                                        'b',  6,    's',  '3',  'c', 'r', 'e', 't'};
    static const uint8_t nul_user[] = {0x05, 0x01, 0x02, 0x01, 4,   'b', 'o', 'b',
                                       0,    6,    's',  '3',  'c', 'r', 'e', 't'};
    const uint8_t *msgs[] = {wrong_pass, long_user, nul_user};
    size_t lens[] = {sizeof(wrong_pass), sizeof(long_user), sizeof(nul_user)};
    for (size_t m = 0; m < 3; m++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, &o);
        feed(&s, msgs[m], lens[m], 1, &r);
        assert_int_equal(r.rc, VX_ERR_AUTH);
        expect_out(&r, V(0x05, 0x02, 0x01, 0x01));
        assert_null(vx_socks_request(&s));
        /* The error sticks. */
        size_t used;
        assert_int_equal(vx_socks_feed(&s, msgs[m], 1, &used), VX_ERR_AUTH);
        assert_int_equal(used, 0);
    }
}

static void test_v5_auth_required_not_offered(void **state)
{
    struct vx_socks_opts o = {.username = "bob", .password = "pw"};
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, &o);
    feed(&s, V(0x05, 0x01, 0x00, 0x05), 1, &r);
    assert_int_equal(r.rc, VX_ERR_AUTH);
    assert_int_equal(r.consumed, 3);
    expect_out(&r, V(0x05, 0xff));
}

static void test_v5_no_acceptable_method(void **state)
{
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, V(0x05, 0x02, 0x01, 0x80), 0, &r); /* GSSAPI, private */
    assert_int_equal(r.rc, VX_ERR_AUTH);
    expect_out(&r, V(0x05, 0xff));
    vx_socks_reset(&s);
    feed(&s, V(0x05, 0x00), 0, &r); /* NMETHODS = 0 */
    assert_int_equal(r.rc, VX_ERR_PROTO);
    expect_out(&r, V(0x05, 0xff));
}

static void test_v5_userpass_any_when_not_required(void **state)
{
    /* Only 0x02 offered, no credentials configured: anything is accepted. */
    static const uint8_t msg[] = {0x05, 0x01, 0x02, 0x01, 0, 1, 'p',  0x05, 0x01,
                                  0x00, 0x01, 10,   0,    0, 1, 0x00, 0x50, 0x42};
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, msg, sizeof(msg), 0, &r);
    assert_int_equal(r.rc, VX_SOCKS_REQUEST);
    assert_int_equal(r.consumed, sizeof(msg) - 1);
    expect_out(&r, V(0x05, 0x02, 0x01, 0x00));
    assert_string_equal(vx_socks_request(&s)->username, "");
    assert_string_equal(vx_socks_request(&s)->password, "p");
}

static void test_v5_bad_auth_version(void **state)
{
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, V(0x05, 0x01, 0x02, 0x05, 0x01), 1, &r);
    assert_int_equal(r.rc, VX_ERR_PROTO);
    expect_out(&r, V(0x05, 0x02, 0x01, 0x01));
}

static void test_v5_unsupported_cmd(void **state)
{
    uint8_t cmds[] = {0x02, 0x03, 0xf0};
    for (size_t i = 0; i < sizeof(cmds); i++) {
        uint8_t msg[] = {0x05, 0x01, 0x00, 0x05, cmds[i], 0x00, 0x01, 1, 2, 3, 4, 0, 80};
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), 1, &r);
        assert_int_equal(r.rc, VX_ERR_PROTO);
        assert_int_equal(r.consumed, 5); /* rejected at the command byte */
        expect_out(&r, V(0x05, 0x00, 0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    }
}

static void test_v5_bad_atyp(void **state)
{
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, V(0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80), 0, &r);
    assert_int_equal(r.rc, VX_ERR_BADADDR);
    assert_int_equal(r.consumed, 7);
    expect_out(&r, V(0x05, 0x00, 0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
}

static void test_v5_bad_domain(void **state)
{
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    feed(&s, V(0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 0x00, 0, 80), 0, &r);
    assert_int_equal(r.rc, VX_ERR_BADADDR);
    expect_out(&r, V(0x05, 0x00, 0x05, 0xf6, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    vx_socks_reset(&s);
    feed(&s, V(0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 0x03, 'a', 0, 'b', 0, 80), 0, &r);
    assert_int_equal(r.rc, VX_ERR_BADADDR);
    assert_int_equal(r.consumed, 10);
}

static void test_v5_garbage(void **state)
{
    struct vx_socks s;
    struct run r;
    /* Bad request version, bad RSV, bad first byte: rejected at once. */
    vx_socks_init(&s, NULL);
    feed(&s, V(0x05, 0x01, 0x00, 0x04, 0x01), 0, &r);
    assert_int_equal(r.rc, VX_ERR_PROTO);
    assert_int_equal(r.consumed, 4);
    expect_out(&r, V(0x05, 0x00));
    vx_socks_reset(&s);
    feed(&s, V(0x05, 0x01, 0x00, 0x05, 0x01, 0x01), 0, &r);
    assert_int_equal(r.rc, VX_ERR_PROTO);
    expect_out(&r, V(0x05, 0x00, 0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    uint8_t firsts[] = {0x00, 0x03, 0x06, 0x16, 'G', 0xff};
    for (size_t i = 0; i < sizeof(firsts); i++) {
        vx_socks_reset(&s);
        feed(&s, &firsts[i], 1, 0, &r);
        assert_int_equal(r.rc, VX_ERR_PROTO);
        assert_int_equal(r.consumed, 1);
        assert_int_equal(r.outlen, 0);
    }
}

static void test_v4_connect(void **state)
{
    static const uint8_t msg[] = {0x04, 0x01, 0x00, 0x50, 198,  51,  100,
                                  7,    'u',  's',  'r',  0x00, 'x', 'y'};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        assert_int_equal(r.consumed, sizeof(msg) - 2);
        assert_int_equal(r.outlen, 0);
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->version, 4);
        assert_int_equal(q->atyp, VX_SOCKS_ATYP_IPV4);
        assert_string_equal(q->host, "198.51.100.7");
        assert_string_equal(q->username, "usr");
        assert_int_equal(q->has_auth, 1);
        assert_int_equal(q->port, 80);
        assert_int_equal(q->addr.ss_family, AF_INET);
    }
}

static void test_v4a_connect(void **state)
{
    static const uint8_t msg[] = {0x04, 0x01, 0x00, 0x16, 0,   0,   0,   1,   0x00, 'b', 'o',
                                  'b',  '.',  's',  's',  'h', '.', 'v', 'x', '6',  0x00};
    for (size_t i = 0; i < NCHUNKS; i++) {
        struct vx_socks s;
        struct run r;
        vx_socks_init(&s, NULL);
        feed(&s, msg, sizeof(msg), chunks[i], &r);
        assert_int_equal(r.rc, VX_SOCKS_REQUEST);
        assert_int_equal(r.consumed, sizeof(msg));
        const struct vx_socks_request *q = vx_socks_request(&s);
        assert_int_equal(q->version, 4);
        assert_int_equal(q->atyp, VX_SOCKS_ATYP_DOMAIN);
        assert_string_equal(q->host, "bob.ssh.vx6");
        assert_int_equal(q->has_auth, 0);
        assert_int_equal(q->port, 22);
        uint8_t rep[VX_SOCKS_REPLY_MAX];
        assert_int_equal(vx_socks_reply(&s, 0, NULL, rep, sizeof(rep)), 8);
        assert_memory_equal(rep, ((uint8_t[]){0, 0x5a, 0, 0, 0, 0, 0, 0}), 8);
        assert_int_equal(
                vx_socks_reply(&s, vx_front_socks5_code(VX_ERR_NOTFOUND), NULL, rep, sizeof(rep)),
                8);
        assert_memory_equal(rep, ((uint8_t[]){0, 0x5b, 0, 0, 0, 0, 0, 0}), 8);
    }
}

static void test_v4_errors(void **state)
{
    struct vx_socks s;
    struct run r;
    static const uint8_t rej[] = {0, 0x5b, 0, 0, 0, 0, 0, 0};

    vx_socks_init(&s, NULL); /* BIND */
    feed(&s, V(0x04, 0x02, 0x00, 0x50, 1, 2, 3, 4, 0), 0, &r);
    assert_int_equal(r.rc, VX_ERR_PROTO);
    assert_int_equal(r.consumed, 2);
    expect_out(&r, rej, 8);

    vx_socks_reset(&s); /* empty 4a host */
    feed(&s, V(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 9, 0, 0), 0, &r);
    assert_int_equal(r.rc, VX_ERR_BADADDR);
    expect_out(&r, rej, 8);

    uint8_t big[8 + 300 + 1];
    memcpy(big, ((uint8_t[]){0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4}), 8);
    memset(big + 8, 'u', 300);
    big[308] = 0;
    vx_socks_reset(&s); /* userid too long */
    feed(&s, big, sizeof(big), 1, &r);
    assert_int_equal(r.rc, VX_ERR_TOOBIG);
    assert_int_equal(r.consumed, 8 + 256);
    expect_out(&r, rej, 8);

    /* exactly 255 userid bytes is fine; a 256-byte 4a host is not */
    uint8_t big4a[8 + 256 + 300 + 1];
    memcpy(big4a, ((uint8_t[]){0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1}), 8);
    memset(big4a + 8, 'u', 255);
    big4a[8 + 255] = 0;
    memset(big4a + 8 + 256, 'h', 300);
    big4a[sizeof(big4a) - 1] = 0;
    vx_socks_reset(&s);
    feed(&s, big4a, sizeof(big4a), 0, &r);
    assert_int_equal(r.rc, VX_ERR_TOOBIG);
    assert_int_equal(r.consumed, 8 + 256 + 256);
    expect_out(&r, rej, 8);

    struct vx_socks_opts no4 = {.no_socks4 = 1};
    vx_socks_init(&s, &no4);
    feed(&s, V(0x04, 0x01), 0, &r);
    assert_int_equal(r.rc, VX_ERR_DENIED);
    assert_int_equal(r.consumed, 1);
    expect_out(&r, rej, 8);

    struct vx_socks_opts auth = {.username = "u", .password = "p"};
    vx_socks_init(&s, &auth);
    feed(&s, V(0x04, 0x01), 0, &r);
    assert_int_equal(r.rc, VX_ERR_AUTH);
    expect_out(&r, rej, 8);
}

static void test_reply_encoding(void **state)
{
    uint8_t out[VX_SOCKS_REPLY_MAX];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1080)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    inet_pton(AF_INET6, "2001:db8::2", &sin6.sin6_addr);

    assert_int_equal(vx_socks5_encode_reply(0, NULL, out, sizeof(out)), 10);
    assert_memory_equal(out, ((uint8_t[]){5, 0, 0, 1, 0, 0, 0, 0, 0, 0}), 10);
    assert_int_equal(vx_socks5_encode_reply(0, (struct sockaddr *)&sin, out, sizeof(out)), 10);
    assert_memory_equal(out, ((uint8_t[]){5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38}), 10);
    assert_int_equal(vx_socks5_encode_reply(0xf0, (struct sockaddr *)&sin6, out, sizeof(out)), 22);
    assert_memory_equal(out, ((uint8_t[]){5, 0xf0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                                          0, 0,    0, 0, 0,    0,    0,    0,    2, 0x01, 0xbb}),
                        22);
    assert_int_equal(vx_socks5_encode_reply(0, (struct sockaddr *)&sin6, out, 21), VX_ERR_TOOBIG);
    assert_int_equal(vx_socks5_encode_reply(0, NULL, out, 9), VX_ERR_TOOBIG);
    assert_int_equal(vx_socks4_encode_reply(0, (struct sockaddr *)&sin, out, sizeof(out)), 8);
    assert_memory_equal(out, ((uint8_t[]){0, 0x5a, 0x04, 0x38, 127, 0, 0, 1}), 8);
    assert_int_equal(vx_socks4_encode_reply(5, (struct sockaddr *)&sin6, out, sizeof(out)), 8);
    assert_memory_equal(out, ((uint8_t[]){0, 0x5b, 0x01, 0xbb, 0, 0, 0, 0}), 8);
    assert_int_equal(vx_socks4_encode_reply(0, NULL, out, 7), VX_ERR_TOOBIG);

    /* vx_socks_reply follows the client's version and needs a request. */
    struct vx_socks s;
    struct run r;
    vx_socks_init(&s, NULL);
    assert_int_equal(vx_socks_reply(&s, 0, NULL, out, sizeof(out)), VX_ERR_INVAL);
    feed(&s, V(5, 1, 0, 5, 1, 0, 3, 1, 'a', 0, 1), 0, &r);
    assert_int_equal(r.rc, VX_SOCKS_REQUEST);
    assert_int_equal(
            vx_socks_reply(&s, vx_front_socks5_code(VX_ERR_TIMEOUT), NULL, out, sizeof(out)), 10);
    assert_memory_equal(out, ((uint8_t[]){5, 6, 0, 1, 0, 0, 0, 0, 0, 0}), 10);
}

static void test_sniff(void **state)
{
    assert_int_equal(vx_front_sniff((const uint8_t *)"", 0), VX_FRONT_NEED_MORE);
    assert_int_equal(vx_front_sniff(V(0x05)), VX_FRONT_SOCKS5);
    assert_int_equal(vx_front_sniff(V(0x04, 0x01)), VX_FRONT_SOCKS4);
    assert_int_equal(vx_front_sniff((const uint8_t *)"C", 1), VX_FRONT_HTTP);
    assert_int_equal(vx_front_sniff((const uint8_t *)"CONNECT a:1", 11), VX_FRONT_HTTP);
    assert_int_equal(vx_front_sniff((const uint8_t *)"GET /", 5), VX_FRONT_HTTP);
    assert_int_equal(vx_front_sniff((const uint8_t *)"get /", 5), VX_FRONT_UNKNOWN);
    assert_int_equal(vx_front_sniff((const uint8_t *)"GE\r\n", 4), VX_FRONT_UNKNOWN);
    assert_int_equal(vx_front_sniff((const uint8_t *)" GET", 4), VX_FRONT_UNKNOWN);
    assert_int_equal(vx_front_sniff((const uint8_t *)"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26),
                     VX_FRONT_UNKNOWN);
    assert_int_equal(vx_front_sniff(V(0x16, 0x03, 0x01)), VX_FRONT_UNKNOWN);
    assert_int_equal(vx_front_sniff(V(0x00)), VX_FRONT_UNKNOWN);
    assert_string_equal(vx_front_proto_name(VX_FRONT_SOCKS5), "SOCKS5");
    assert_string_equal(vx_front_proto_name(VX_FRONT_UNKNOWN), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_v5_ipv4),
            cmocka_unit_test(test_v5_ipv6),
            cmocka_unit_test(test_v5_domain_early_data),
            cmocka_unit_test(test_v5_domain_max),
            cmocka_unit_test(test_v5_userpass_ok),
            cmocka_unit_test(test_v5_userpass_options),
        cmocka_unit_test(test_v5_userpass_wrong),
            cmocka_unit_test(test_v5_auth_required_not_offered),
            cmocka_unit_test(test_v5_no_acceptable_method),
            cmocka_unit_test(test_v5_userpass_any_when_not_required),
            cmocka_unit_test(test_v5_bad_auth_version),
            cmocka_unit_test(test_v5_unsupported_cmd),
            cmocka_unit_test(test_v5_bad_atyp),
            cmocka_unit_test(test_v5_bad_domain),
            cmocka_unit_test(test_v5_garbage),
            cmocka_unit_test(test_v4_connect),
            cmocka_unit_test(test_v4a_connect),
            cmocka_unit_test(test_v4_errors),
            cmocka_unit_test(test_reply_encoding),
            cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
