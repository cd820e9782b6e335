/* noise.h — the VX6 session handshake (Noise XX / IK, pure, no I/O).
 *
 * Protocol names: Noise_XX_25519_ChaChaPoly_BLAKE2b (peer key unknown) and
 * Noise_IK_25519_ChaChaPoly_BLAKE2b (peer key known from a signed record).
 * The static keys are the X25519 forms of the nodes' Ed25519 identities.  In
 * the message that carries a party's static key, its Ed25519 public key is
 * sent (encrypted) at the start of the payload and checked against the static
 * key, so each side learns the other's node ID.  The caller's payload follows.
 * See vx6-protocol(7) for the exact bytes.
 */
#ifndef VX6_CRYPTO_NOISE_H
#define VX6_CRYPTO_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/channel.h"
#include "crypto/identity.h"

#define VX_NOISE_MAX_MSG 65535

enum vx_noise_pattern {
    VX_NOISE_XX = 1,
    VX_NOISE_IK = 2,
};

struct vx_noise;

/* New handshake.  remote_pk: the responder's Ed25519 key, required for an IK
 * initiator; elsewhere NULL, or the peer's expected key (the handshake then
 * fails with VX_ERR_PEER_ID if the peer proves another).  prologue is mixed
 * into the transcript.  Never returns NULL (a bad argument shows as
 * VX_ERR_INVAL from vx_noise_write/read). */
struct vx_noise *vx_noise_new(int initiator, enum vx_noise_pattern pattern,
                              const struct vx_identity *self, const uint8_t *remote_pk,
                              const uint8_t *prologue, size_t prologue_len);
void vx_noise_free(struct vx_noise *n);

/* 1 when it is our turn to write, 0 when we expect a message. */
int vx_noise_want_write(const struct vx_noise *n);
/* 1 once all messages of the pattern are processed. */
int vx_noise_done(const struct vx_noise *n);

/* Produce the next handshake message carrying payload.  0, VX_ERR_TOOBIG
 * (cap too small / payload too big), VX_ERR_INVAL (not our turn). */
int vx_noise_write(struct vx_noise *n, const uint8_t *payload, size_t plen, uint8_t *out,
                   size_t cap, size_t *outlen);
/* Consume a peer message; its payload is copied to payload.  0,
 * VX_ERR_CRYPTO (decryption failed), VX_ERR_PEER_ID (Ed25519 key does not
 * match the static key), VX_ERR_TRUNC (too short), VX_ERR_TOOBIG (message
 * over VX_NOISE_MAX_MSG; or payload cap too small, which alone leaves the
 * state untouched so the caller may retry), VX_ERR_INVAL (not our turn).
 * Any other failure is final: the handshake is dead. */
int vx_noise_read(struct vx_noise *n, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *plen);

/* After done: the peer's Ed25519 public key. */
int vx_noise_remote_pk(const struct vx_noise *n, uint8_t pk[VX_PK_LEN]);
/* The handshake hash (channel binding), 64 bytes. */
int vx_noise_handshake_hash(const struct vx_noise *n, uint8_t h[64]);
/* After done: the two transport channels using the negotiated AEAD. */
int vx_noise_split(struct vx_noise *n, enum vx_aead aead, struct vx_chan **tx, struct vx_chan **rx);

#endif
