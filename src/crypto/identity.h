/* identity.h — a node's long-term Ed25519 identity.
 *
 * The node ID is BLAKE2b-256 of the Ed25519 public key, shown as 52 lowercase
 * base32 characters (RFC 4648 alphabet, no padding).  The X25519 static key
 * used by the Noise handshake is derived from the Ed25519 key pair
 * (crypto_sign_ed25519_{pk,sk}_to_curve25519), so one key file is the node's
 * whole identity.
 *
 * Key file format (text, one line, mode 0600):
 *     vx6-ed25519-v1:<64 hex chars of the 32-byte seed>:<8 hex chars check>\n
 * where check is the first 4 bytes of BLAKE2b-256("vx6 key check" || seed).
 */
#ifndef VX6_CRYPTO_IDENTITY_H
#define VX6_CRYPTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define VX_PK_LEN         32 /* Ed25519 public key */
#define VX_SK_LEN         64 /* Ed25519 secret key (seed || pk) */
#define VX_SEED_LEN       32
#define VX_SIG_LEN        64
#define VX_NODE_ID_LEN    32
#define VX_X25519_LEN     32
#define VX_NODE_ID_STRLEN 52 /* base32 of 32 bytes, no padding */

struct vx_identity {
    uint8_t pk[VX_PK_LEN];
    uint8_t sk[VX_SK_LEN];
    uint8_t node_id[VX_NODE_ID_LEN];
    uint8_t x_pk[VX_X25519_LEN]; /* X25519 static public key for Noise */
    uint8_t x_sk[VX_X25519_LEN]; /* X25519 static private key for Noise */
};

/* Fresh random identity.  0 or VX_ERR_CRYPTO. */
int vx_identity_generate(struct vx_identity *id);
/* Deterministic identity from a 32-byte seed (tests, key files). */
int vx_identity_from_seed(struct vx_identity *id, const uint8_t seed[VX_SEED_LEN]);
/* Zero the secret parts. Accepts NULL. */
void vx_identity_wipe(struct vx_identity *id);

/* Load a key file.  VX_ERR_NOTFOUND if absent, VX_ERR_PERM if readable by
 * group or others (or not a regular file), VX_ERR_CORRUPT if malformed or the
 * check fails, VX_ERR_SYS on other I/O errors.  Never modifies the file. */
int vx_identity_load(struct vx_identity *id, const char *path);
/* Write a key file atomically (temp file 0600, fsync, rename, fsync dir).
 * VX_ERR_EXISTS if path exists and !overwrite. */
int vx_identity_save(const struct vx_identity *id, const char *path, int overwrite);
/* Load path; if it does not exist, generate and save a new identity.
 * *created is set to 1 when a new key was made.  Any other load error is
 * returned as is: an existing bad key is never replaced. */
int vx_identity_load_or_create(struct vx_identity *id, const char *path, int *created);

/* Node ID of an Ed25519 public key. */
void vx_node_id_from_pk(const uint8_t pk[VX_PK_LEN], uint8_t id[VX_NODE_ID_LEN]);
/* Ed25519 public key -> X25519 public key; 0 or VX_ERR_CRYPTO (bad point). */
int vx_pk_to_x25519(const uint8_t pk[VX_PK_LEN], uint8_t x[VX_X25519_LEN]);

/* Base32 text of a node ID into out (cap >= VX_NODE_ID_STRLEN + 1). */
int vx_node_id_to_str(const uint8_t id[VX_NODE_ID_LEN], char *out, size_t cap);
/* Parse 52 base32 chars (case-insensitive).  0 or VX_ERR_BADADDR. */
int vx_node_id_from_str(const char *s, uint8_t id[VX_NODE_ID_LEN]);

/* Detached Ed25519 signatures. verify: 0 or VX_ERR_BADSIG. */
int vx_sign(const struct vx_identity *id, const uint8_t *msg, size_t len, uint8_t sig[VX_SIG_LEN]);
int vx_verify(const uint8_t pk[VX_PK_LEN], const uint8_t *msg, size_t len,
              const uint8_t sig[VX_SIG_LEN]);

#endif
