/* test_hsaddr.c — hidden-service addresses and per-service key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "front/name.h"
#include "hidden/hsaddr.h"
#include "lib/base32.h"
#include "lib/err.h"
#include "lib/log.h"

/* RFC 8032 TEST 1 seed; address from tests/vectors/hidden_ref.py. */
static const char *SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *ADDR = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenkg7ib";

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vx6-test-hsaddr-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    vx_log_set_level(VX_LOG_NONE);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void seed_id(struct vx_identity *id)
{
    uint8_t seed[32];
    assert_int_equal(sodium_hex2bin(seed, 32, SEED_HEX, 64, NULL, NULL, NULL), 0);
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void test_vector(void **state)
{
    struct vx_identity id;
    char s[VX_HSADDR_LEN + 1];
    uint8_t pk[32];
    struct vx_name n;
    (void)state;

    seed_id(&id);
    assert_int_equal(vx_hsaddr_format(id.pk, s, sizeof(s)), 0);
    assert_string_equal(s, ADDR);
    assert_int_equal(strlen(s), VX_NAME_HIDDEN_LEN);
    assert_int_equal(vx_hsaddr_parse(ADDR, pk), 0);
    assert_memory_equal(pk, id.pk, 32);
    /* the front-end's classifier agrees it is a hidden address */
    char host[80];
    snprintf(host, sizeof(host), "%s.vx6", ADDR);
    assert_int_equal(vx_name_parse(host, 0, &n), 0);
    assert_int_equal(n.kind, VX_NAME_HIDDEN);
    assert_int_equal(vx_hsaddr_parse(n.address, pk), 0);
    /* with the suffix, upper case and a final dot */
    assert_int_equal(vx_hsaddr_parse(host, pk), 0);
    for (char *p = host; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    strcat(host, ".");
    assert_int_equal(vx_hsaddr_parse(host, pk), 0);
    assert_int_equal(vx_hsaddr_format(id.pk, s, VX_HSADDR_LEN), VX_ERR_TOOBIG);
}

static void test_rejects(void **state)
{
    char s[VX_HSADDR_LEN + 8];
    uint8_t pk[32], raw[35];
    (void)state;

    assert_int_equal(vx_hsaddr_parse(NULL, pk), VX_ERR_BADADDR);
    assert_int_equal(vx_hsaddr_parse("", pk), VX_ERR_BADADDR);
    /* wrong length */
    memcpy(s, ADDR, 55);
    s[55] = 0;
    assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
    /* bad character */
    strcpy(s, ADDR);
    s[10] = '1';
    assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
    /* every single-character change in the key part breaks the checksum */
    for (int i = 0; i < 51; i++) {
        strcpy(s, ADDR);
        s[i] = s[i] == 'a' ? 'b' : 'a';
        assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
    }
    /* a wrong version with a matching checksum */
    assert_int_equal(vx_base32_decode(ADDR, 56, raw, sizeof(raw)), 35);
    raw[34] = 2;
    {
        crypto_generichash_state st;
        uint8_t h[32];
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, (const uint8_t *)".vx6 checksum", 13);
        crypto_generichash_update(&st, raw, 32);
        crypto_generichash_update(&st, raw + 34, 1);
        crypto_generichash_final(&st, h, 32);
        raw[32] = h[0];
        raw[33] = h[1];
    }
    assert_int_equal(vx_base32_encode(raw, 35, s, sizeof(s)), 56);
    assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
    /* a small-order key with a correct checksum */
    memset(raw, 0, 32);
    raw[0] = 1; /* the identity point */
    assert_int_equal(vx_hsaddr_format(raw, s, sizeof(s)), 0);
    assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
    /* another suffix */
    snprintf(s, sizeof(s), "%s.vx7", ADDR);
    assert_int_equal(vx_hsaddr_parse(s, pk), VX_ERR_BADADDR);
}

static void test_roundtrip_random(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        struct vx_identity id;
        char s[VX_HSADDR_LEN + 1];
        uint8_t pk[32];
        assert_int_equal(vx_identity_generate(&id), 0);
        assert_int_equal(vx_hsaddr_format(id.pk, s, sizeof(s)), 0);
        assert_true(vx_name_hidden_syntax_ok(s, strlen(s)));
        assert_int_equal(vx_hsaddr_parse(s, pk), 0);
        assert_memory_equal(pk, id.pk, 32);
    }
}

static void test_keyfile(void **state)
{
    struct vx_identity a, b, node;
    char path[512], s1[64], s2[64];
    struct stat st;
    int created = -1;
    (void)state;

    assert_int_equal(vx_hs_key_load(&a, dir, "web", 0, NULL), VX_ERR_NOTFOUND);
    assert_int_equal(vx_hs_address_of(dir, "web", s1, sizeof(s1)), VX_ERR_NOTFOUND);
    assert_int_equal(vx_hs_key_load(&a, dir, "web", 1, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(vx_hs_key_path(path, sizeof(path), dir, "web"), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* stable: loading again gives the same key and address */
    assert_int_equal(vx_hs_key_load(&b, dir, "web", 1, &created), 0);
    assert_int_equal(created, 0);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_int_equal(vx_hs_address_of(dir, "web", s1, sizeof(s1)), 0);
    assert_int_equal(vx_hsaddr_format(a.pk, s2, sizeof(s2)), 0);
    assert_string_equal(s1, s2);
    /* one key per service, distinct from each other and from a node key */
    assert_int_equal(vx_hs_key_load(&b, dir, "ssh", 1, &created), 0);
    assert_memory_not_equal(a.pk, b.pk, 32);
    assert_int_equal(vx_identity_generate(&node), 0);
    assert_memory_not_equal(a.pk, node.pk, 32);
    /* names that could escape the directory are refused */
    assert_int_equal(vx_hs_key_load(&a, dir, "../x", 1, NULL), VX_ERR_BADADDR);
    assert_int_equal(vx_hs_key_load(&a, dir, "", 1, NULL), VX_ERR_BADADDR);
    assert_int_equal(vx_hs_key_load(&a, dir, "Web", 1, NULL), VX_ERR_BADADDR);
    /* a key readable by others is refused */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(vx_hs_key_load(&a, dir, "web", 1, NULL), VX_ERR_PERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vector),
            cmocka_unit_test(test_rejects),
            cmocka_unit_test(test_roundtrip_random),
            cmocka_unit_test(test_keyfile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
