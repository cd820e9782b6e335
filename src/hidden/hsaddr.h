/* hsaddr.h — hidden-service addresses and per-service identity keys.
 *
 * ADDRESS = base32(A || checksum || version), 35 bytes -> 56 lowercase
 * characters, where A is the service's Ed25519 public key (its identity,
 * distinct from the node key), version is VX_HSADDR_VERSION (1) and
 * checksum = the first 2 bytes of BLAKE2b-256(".vx6 checksum" || A || version).
 * The address is self-authenticating: everything a client learns about the
 * service (descriptors, rendezvous answers) is checked against A.
 *
 * Each hidden service NAME of a node has its own key, stored (mode 0600, the
 * format of crypto/identity.h) in DATA_DIR/hidden/NAME.key.
 */
#ifndef VX6_HIDDEN_HSADDR_H
#define VX6_HIDDEN_HSADDR_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

#define VX_HSADDR_VERSION   1
#define VX_HSADDR_LEN       56 /* characters, without ".vx6" */
#define VX_HSADDR_RAW_LEN   35 /* pk(32) || checksum(2) || version(1) */
#define VX_HSADDR_CKSUM_LEN 2

/* ADDRESS of public key pk into out (cap >= VX_HSADDR_LEN + 1).
 * 0 or VX_ERR_TOOBIG. */
int vx_hsaddr_format(const uint8_t pk[VX_PK_LEN], char *out, size_t cap);

/* Parse an address: exactly 56 base32 characters (case-insensitive), or the
 * same followed by ".vx6" (and an optional final dot).  On success the
 * service's public key is written to pk.  VX_ERR_BADADDR for a wrong length
 * or character, a bad checksum, an unknown version, or a key that is not a
 * usable Ed25519 point (small order or not on the curve). */
int vx_hsaddr_parse(const char *s, uint8_t pk[VX_PK_LEN]);

/* DATA_DIR/hidden/NAME.key into out.  VX_ERR_BADADDR if NAME is not a
 * label (1..63 of [a-z0-9-], no '-' at either end), VX_ERR_TOOBIG if the
 * path does not fit. */
int vx_hs_key_path(char *out, size_t cap, const char *data_dir, const char *name);

/* Load the key of hidden service NAME; with create != 0 make one (and the
 * DATA_DIR/hidden directory, mode 0700) when it does not exist yet.  The
 * errors of vx_identity_load()/vx_identity_load_or_create(), plus those of
 * vx_hs_key_path(). *created (may be NULL) is set to 1 for a new key. */
int vx_hs_key_load(struct vx_identity *id, const char *data_dir, const char *name, int create,
                   int *created);

/* ADDRESS of service NAME from its key file (offline: no daemon needed). */
int vx_hs_address_of(const char *data_dir, const char *name, char *out, size_t cap);

#endif
