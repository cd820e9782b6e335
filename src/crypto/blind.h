/* blind.h — Ed25519 key blinding per time period (hidden services).
 *
 * Time is cut into periods of VX_BLIND_PERIOD_S seconds (period n covers
 * [n * 86400, (n + 1) * 86400) unix seconds).  For a service key A = a*B and
 * a period n:
 *
 *     h  = BLAKE2b-512("vx6 blind v1" || A || u64be(n) || u64be(86400)) mod L
 *     A' = h * A                              (blinded public key)
 *     a' = h * a mod L                        (blinded secret scalar)
 *     p' = BLAKE2b-256("vx6 blind prefix" || prefix(a) || h)
 *
 * where a and prefix(a) are the two halves of SHA-512(seed) (a clamped), as
 * in RFC 8032.  Signatures by (a', p') are ordinary Ed25519 signatures under
 * A' (R = r*B with r = SHA-512(p' || M) mod L; S = r + SHA-512(R || A' || M)*a'),
 * so anyone who knows A computes A' and verifies with vx_verify(), while a
 * holder that sees only A' learns neither A nor the A' of other periods.
 *
 * Period boundaries: a descriptor for period n is published from
 * VX_BLIND_OVERLAP_S before period n starts until it ends, and a client
 * within VX_BLIND_OVERLAP_S of a boundary also tries the adjacent period
 * (vx_blind_periods()), so clocks that disagree by less than the overlap
 * still meet.
 */
#ifndef VX6_CRYPTO_BLIND_H
#define VX6_CRYPTO_BLIND_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

#define VX_BLIND_PERIOD_S  86400u
#define VX_BLIND_OVERLAP_S 3600u

struct vx_blind_key {
    uint64_t period;
    uint8_t pk[VX_PK_LEN]; /* A' */
    uint8_t scalar[32];    /* a' (secret) */
    uint8_t prefix[32];    /* p' (secret) */
};

/* Period containing unix time t, and the first second of period n. */
uint64_t vx_blind_period_of(uint64_t t);
uint64_t vx_blind_period_start(uint64_t period);

/* Periods to use at time t, preferred first: the current one, plus the
 * adjacent one when t is within VX_BLIND_OVERLAP_S of a boundary (the next
 * near the end, the previous near the start).  Returns 1 or 2. */
size_t vx_blind_periods(uint64_t t, uint64_t out[2]);

/* The blinding factor h for A and a period (tests and the man page). */
int vx_blind_factor(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t h[32]);

/* A' from A alone.  0, or VX_ERR_BADADDR if pk is not a usable point. */
int vx_blind_public(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t out[VX_PK_LEN]);

/* The owner's blinded key pair for a period.  0 or VX_ERR_CRYPTO. */
int vx_blind_keypair(const struct vx_identity *id, uint64_t period, struct vx_blind_key *out);

/* Deterministic Ed25519 signature with the blinded key.  0. */
int vx_blind_sign(const struct vx_blind_key *k, const uint8_t *msg, size_t len,
                  uint8_t sig[VX_SIG_LEN]);

/* Zero the secret parts.  Accepts NULL. */
void vx_blind_wipe(struct vx_blind_key *k);

#endif
