/* noise_private.h — test-only entry points of the handshake and the channel.
 *
 * Not for production code: these let the unit tests run the handshake with
 * raw X25519 keys and a fixed ephemeral key and without the Ed25519 payload
 * prefix, which is what the published Noise test vectors (cacophony) need,
 * and set a channel's nonce counter to exercise nonce exhaustion.
 */
#ifndef VX6_CRYPTO_NOISE_PRIVATE_H
#define VX6_CRYPTO_NOISE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/channel.h"
#include "crypto/noise.h"

/* A plain Noise handshake: s_sk is our X25519 static private key (NULL for
 * none), rs the peer's X25519 static public key (IK initiator only, else
 * NULL), e_sk a fixed ephemeral private key (NULL for a random one).
 * Payloads carry no Ed25519 prefix and vx_noise_remote_pk() fails.
 * Never returns NULL. */
struct vx_noise *vx_noise_new_raw(int initiator, enum vx_noise_pattern pattern,
                                  const uint8_t s_sk[32], const uint8_t rs[32],
                                  const uint8_t e_sk[32], const uint8_t *prologue,
                                  size_t prologue_len);

/* Use e_sk as the ephemeral private key of the next message that sends
 * one (deterministic transcripts for the fuzz target and its corpus). */
void vx_noise_set_ephemeral(struct vx_noise *n, const uint8_t e_sk[32]);

/* Set the next nonce a channel uses. */
void vx_chan_set_nonce(struct vx_chan *c, uint64_t n);

#endif
