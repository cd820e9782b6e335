/* test_identity.c — key generation, node IDs, key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "testutil.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    if (tu_tmpdir_make(dir, sizeof(dir), "identity") < 0)
        return -1;
    vx_log_set_level(VX_LOG_NONE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tu_tmpdir_remove(dir);
}

static void keypath(char *out, size_t cap, const char *name)
{
    assert_int_equal(vx_path_join(out, cap, dir, name), 0);
}

static void test_seed_vector(void **state)
{
    /* RFC 8032 section 7.1 TEST 1: seed -> public key.  The node ID is
     * BLAKE2b-256(pk), computed independently (Python hashlib). */
    static const uint8_t seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
                                     0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
                                     0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
                                     0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
    static const uint8_t pk[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                   0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                   0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    struct vx_identity id;
    char s[VX_NODE_ID_STRLEN + 1];
    uint8_t back[VX_NODE_ID_LEN], x[32];
    (void)state;
    assert_int_equal(vx_identity_from_seed(&id, seed), 0);
    assert_memory_equal(id.pk, pk, 32);
    assert_int_equal(vx_node_id_to_str(id.node_id, s, sizeof(s)), 0);
    assert_string_equal(s, "pbe2ymcjnaf6d33wf37a2nxac4z4grsowdd4kwatrlhsjozghpjq");
    assert_int_equal(vx_node_id_from_str(s, back), 0);
    assert_memory_equal(back, id.node_id, VX_NODE_ID_LEN);
    /* The X25519 static matches the conversion of the public key. */
    assert_int_equal(vx_pk_to_x25519(id.pk, x), 0);
    assert_memory_equal(x, id.x_pk, 32);
}

static void test_node_id_str_rejects(void **state)
{
    uint8_t id[VX_NODE_ID_LEN];
    (void)state;
    assert_int_equal(vx_node_id_from_str("abc", id), VX_ERR_BADADDR);
    assert_int_equal(
            vx_node_id_from_str("pbe2ymcjnaf6d33wf37a2nxac4z4grsowdd4kwatrlhsjozghpj1", id),
            VX_ERR_BADADDR);
    assert_int_equal(vx_node_id_from_str(NULL, id), VX_ERR_BADADDR);
}

static void test_sign_verify(void **state)
{
    struct vx_identity a, b;
    uint8_t sig[VX_SIG_LEN];
    const uint8_t msg[] = "record";
    (void)state;
    assert_int_equal(vx_identity_generate(&a), 0);
    assert_int_equal(vx_identity_generate(&b), 0);
    assert_memory_not_equal(a.node_id, b.node_id, VX_NODE_ID_LEN);
    assert_int_equal(vx_sign(&a, msg, sizeof(msg), sig), 0);
    assert_int_equal(vx_verify(a.pk, msg, sizeof(msg), sig), 0);
    assert_int_equal(vx_verify(b.pk, msg, sizeof(msg), sig), VX_ERR_BADSIG);
    sig[5] ^= 1;
    assert_int_equal(vx_verify(a.pk, msg, sizeof(msg), sig), VX_ERR_BADSIG);
}

static void test_save_load(void **state)
{
    struct vx_identity a, b;
    char p[512];
    struct stat st;
    (void)state;
    keypath(p, sizeof(p), "k1");
    assert_int_equal(vx_identity_generate(&a), 0);
    assert_int_equal(vx_identity_save(&a, p, 0), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vx_identity_load(&b, p), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    /* No overwrite unless asked. */
    assert_int_equal(vx_identity_save(&a, p, 0), VX_ERR_EXISTS);
    assert_int_equal(vx_identity_save(&a, p, 1), 0);
}

static void test_load_or_create(void **state)
{
    struct vx_identity a, b;
    char p[512];
    int created;
    (void)state;
    keypath(p, sizeof(p), "k2");
    assert_int_equal(vx_identity_load_or_create(&a, p, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(vx_identity_load_or_create(&b, p, &created), 0);
    assert_int_equal(created, 0);
    assert_memory_equal(a.node_id, b.node_id, VX_NODE_ID_LEN);
}

static void write_file(const char *p, const char *text, mode_t mode)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static void test_refuses_world_readable(void **state)
{
    struct vx_identity a, b;
    char p[512];
    int created;
    uint8_t *before, *after;
    size_t blen, alen;
    (void)state;
    keypath(p, sizeof(p), "k3");
    assert_int_equal(vx_identity_generate(&a), 0);
    assert_int_equal(vx_identity_save(&a, p, 0), 0);
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(vx_file_read(p, 4096, &before, &blen), 0);
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_PERM);
    /* load_or_create must not replace it either. */
    assert_int_equal(vx_identity_load_or_create(&b, p, &created), VX_ERR_PERM);
    assert_int_equal(vx_file_read(p, 4096, &after, &alen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(before, after, blen);
    free(before);
    free(after);
    chmod(p, 0640);
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_PERM);
}

static void test_refuses_corrupt(void **state)
{
    struct vx_identity a, b;
    char p[512];
    int created;
    uint8_t *data;
    size_t len;
    (void)state;
    keypath(p, sizeof(p), "k4");
    write_file(p, "garbage\n", 0600);
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_CORRUPT);
    assert_int_equal(vx_identity_load_or_create(&b, p, &created), VX_ERR_CORRUPT);
    assert_int_equal(vx_file_read(p, 4096, &data, &len), 0);
    assert_string_equal((char *)data, "garbage\n"); /* never overwritten */
    free(data);

    /* A single flipped hex digit fails the check. */
    assert_int_equal(vx_identity_generate(&a), 0);
    assert_int_equal(vx_identity_save(&a, p, 1), 0);
    assert_int_equal(vx_file_read(p, 4096, &data, &len), 0);
    data[20] = data[20] == 'a' ? 'b' : 'a';
    write_file(p, (char *)data, 0600);
    free(data);
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_CORRUPT);

    /* Truncated. */
    write_file(p, "vx6-ed25519-v1:00", 0600);
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_CORRUPT);
}

static void test_missing(void **state)
{
    struct vx_identity b;
    char p[512];
    (void)state;
    keypath(p, sizeof(p), "nope");
    assert_int_equal(vx_identity_load(&b, p), VX_ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_seed_vector),     cmocka_unit_test(test_node_id_str_rejects),
            cmocka_unit_test(test_sign_verify),     cmocka_unit_test(test_save_load),
            cmocka_unit_test(test_load_or_create),  cmocka_unit_test(test_refuses_world_readable),
            cmocka_unit_test(test_refuses_corrupt), cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests_name("identity", tests, setup, teardown);
}
