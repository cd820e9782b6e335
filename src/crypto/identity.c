/* identity.c — a node's long-term Ed25519 identity and its key file. */
#include "crypto/identity.h"
#include "lib/base32.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_MAGIC     "vx6-ed25519-v1:"
#define KEYFILE_MAGIC_LEN (sizeof(KEYFILE_MAGIC) - 1)
/* magic + 64 hex + ':' + 8 hex + '\n' */
#define KEYFILE_LEN (KEYFILE_MAGIC_LEN + 64 + 1 + 8 + 1)
#define CHECK_LEN   4

static int sodium_ready(void)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            return VX_ERR_CRYPTO;
        ready = 1;
    }
    return 0;
}

void vx_node_id_from_pk(const uint8_t pk[VX_PK_LEN], uint8_t id[VX_NODE_ID_LEN])
{
    crypto_generichash(id, VX_NODE_ID_LEN, pk, VX_PK_LEN, NULL, 0);
}

int vx_pk_to_x25519(const uint8_t pk[VX_PK_LEN], uint8_t x[VX_X25519_LEN])
{
    return crypto_sign_ed25519_pk_to_curve25519(x, pk) == 0 ? 0 : VX_ERR_CRYPTO;
}

int vx_identity_from_seed(struct vx_identity *id, const uint8_t seed[VX_SEED_LEN])
{
    int rc;

    if ((rc = sodium_ready()) < 0)
        return rc;
    memset(id, 0, sizeof(*id));
    if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0)
        return VX_ERR_CRYPTO;
    if (crypto_sign_ed25519_pk_to_curve25519(id->x_pk, id->pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(id->x_sk, id->sk) != 0) {
        vx_identity_wipe(id);
        return VX_ERR_CRYPTO;
    }
    vx_node_id_from_pk(id->pk, id->node_id);
    return 0;
}

int vx_identity_generate(struct vx_identity *id)
{
    uint8_t seed[VX_SEED_LEN];
    int rc;

    if ((rc = sodium_ready()) < 0)
        return rc;
    randombytes_buf(seed, sizeof(seed));
    rc = vx_identity_from_seed(id, seed);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

void vx_identity_wipe(struct vx_identity *id)
{
    if (id)
        sodium_memzero(id, sizeof(*id));
}

static void key_check(const uint8_t seed[VX_SEED_LEN], uint8_t check[CHECK_LEN])
{
    static const char label[] = "vx6 key check";
    uint8_t h[32];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, seed, VX_SEED_LEN);
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(check, h, CHECK_LEN);
}

int vx_identity_load(struct vx_identity *id, const char *path)
{
    char text[KEYFILE_LEN + 1];
    uint8_t seed[VX_SEED_LEN], check[CHECK_LEN], want[CHECK_LEN];
    struct stat st;
    ssize_t n;
    int fd, rc = 0;

    memset(id, 0, sizeof(*id));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? VX_ERR_NOTFOUND : (errno == ELOOP ? VX_ERR_PERM : VX_ERR_SYS);
    if (fstat(fd, &st) < 0) {
        rc = VX_ERR_SYS;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        log_err(LD_CRYPTO,
                "key file %s has mode %04o: it must be a regular file readable only "
                "by its owner (chmod 600 %s)",
                path, (unsigned)(st.st_mode & 07777), path);
        rc = VX_ERR_PERM;
        goto out;
    }
    n = read(fd, text, sizeof(text));
    if (n < 0) {
        rc = VX_ERR_SYS;
        goto out;
    }
    if ((size_t)n != KEYFILE_LEN || memcmp(text, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN) != 0 ||
        text[KEYFILE_MAGIC_LEN + 64] != ':' || text[KEYFILE_LEN - 1] != '\n' ||
        sodium_hex2bin(seed, sizeof(seed), text + KEYFILE_MAGIC_LEN, 64, NULL, NULL, NULL) != 0 ||
        sodium_hex2bin(check, sizeof(check), text + KEYFILE_MAGIC_LEN + 65, 8, NULL, NULL, NULL) !=
                0) {
        rc = VX_ERR_CORRUPT;
        goto out;
    }
    key_check(seed, want);
    if (sodium_memcmp(check, want, CHECK_LEN) != 0) {
        rc = VX_ERR_CORRUPT;
        goto out;
    }
    rc = vx_identity_from_seed(id, seed);
out:
    sodium_memzero(text, sizeof(text));
    sodium_memzero(seed, sizeof(seed));
    close(fd);
    return rc;
}

int vx_identity_save(const struct vx_identity *id, const char *path, int overwrite)
{
    char text[KEYFILE_LEN + 1];
    uint8_t check[CHECK_LEN];
    struct stat st;
    int rc;

    if (!overwrite && lstat(path, &st) == 0)
        return VX_ERR_EXISTS;
    /* The seed is the first half of libsodium's Ed25519 secret key. */
    key_check(id->sk, check);
    memcpy(text, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN);
    sodium_bin2hex(text + KEYFILE_MAGIC_LEN, 65, id->sk, VX_SEED_LEN);
    text[KEYFILE_MAGIC_LEN + 64] = ':';
    sodium_bin2hex(text + KEYFILE_MAGIC_LEN + 65, 9, check, CHECK_LEN);
    text[KEYFILE_LEN - 1] = '\n';
    rc = vx_file_write_atomic(path, text, KEYFILE_LEN, 0600);
    sodium_memzero(text, sizeof(text));
    return rc;
}

int vx_identity_load_or_create(struct vx_identity *id, const char *path, int *created)
{
    int rc = vx_identity_load(id, path);

    *created = 0;
    if (rc != VX_ERR_NOTFOUND)
        return rc;
    if ((rc = vx_identity_generate(id)) < 0)
        return rc;
    /* overwrite=0: if another process created it meanwhile, keep theirs. */
    rc = vx_identity_save(id, path, 0);
    if (rc == VX_ERR_EXISTS)
        return vx_identity_load(id, path);
    if (rc < 0) {
        vx_identity_wipe(id);
        return rc;
    }
    *created = 1;
    return 0;
}

int vx_node_id_to_str(const uint8_t id[VX_NODE_ID_LEN], char *out, size_t cap)
{
    int n = vx_base32_encode(id, VX_NODE_ID_LEN, out, cap);
    return n < 0 ? n : 0;
}

int vx_node_id_from_str(const char *s, uint8_t id[VX_NODE_ID_LEN])
{
    if (!s || strlen(s) != VX_NODE_ID_STRLEN)
        return VX_ERR_BADADDR;
    return vx_base32_decode(s, VX_NODE_ID_STRLEN, id, VX_NODE_ID_LEN) == VX_NODE_ID_LEN
                   ? 0
                   : VX_ERR_BADADDR;
}

int vx_sign(const struct vx_identity *id, const uint8_t *msg, size_t len, uint8_t sig[VX_SIG_LEN])
{
    return crypto_sign_detached(sig, NULL, msg, len, id->sk) == 0 ? 0 : VX_ERR_CRYPTO;
}

int vx_verify(const uint8_t pk[VX_PK_LEN], const uint8_t *msg, size_t len,
              const uint8_t sig[VX_SIG_LEN])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : VX_ERR_BADSIG;
}
