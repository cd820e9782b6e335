/* channel.h — one direction of an established session: AEAD with an
 * implicit 64-bit counter nonce, in-place encryption, rekeying.
 *
 * The cipher is negotiated in the handshake: AES-256-GCM where the CPU has
 * AES-NI and PCLMUL (GnuTLS's implementation, libsodium's if GnuTLS refuses
 * the key), ChaCha20-Poly1305 (IETF, libsodium) otherwise.  Nonces are the record counter, so a replayed, dropped or
 * reordered record fails authentication.
 */
#ifndef VX6_CRYPTO_CHANNEL_H
#define VX6_CRYPTO_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#define VX_CHAN_KEY_LEN 32
#define VX_CHAN_TAG_LEN 16

enum vx_aead {
    VX_AEAD_CHACHAPOLY = 1,
    VX_AEAD_AESGCM = 2,
};

struct vx_chan;

/* 1 if AES-256-GCM can run on this CPU. */
int vx_aead_aesgcm_available(void);
const char *vx_aead_name(enum vx_aead a);

/* New channel from a 32-byte key.  Never returns NULL; VX_ERR_INVAL via NULL
 * only when aead is AES-GCM and the CPU lacks it (caller checks first). */
struct vx_chan *vx_chan_new(enum vx_aead aead, const uint8_t key[VX_CHAN_KEY_LEN]);
void vx_chan_free(struct vx_chan *c); /* wipes the key; accepts NULL */

/* Encrypt buf[0..len) in place and append the tag at buf[len..len+16); ad is
 * authenticated, not encrypted.  Uses the next nonce.  0 or VX_ERR_LIMIT
 * (nonce space exhausted — rekey or reconnect). */
int vx_chan_seal(struct vx_chan *c, uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen);
/* Decrypt buf[0..len) in place (len includes the tag); plaintext length is
 * len - 16.  0, VX_ERR_TRUNC (len < 16) or VX_ERR_CRYPTO. On failure the
 * nonce is not advanced and the channel must be considered dead. */
int vx_chan_open(struct vx_chan *c, uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen);

/* Noise Rekey(): key = first 32 bytes of ENCRYPT(key, 2^64-1, "", zeros[32]).
 * Both ends call it at the same record boundary (the session signals it). */
void vx_chan_rekey(struct vx_chan *c);

uint64_t vx_chan_nonce(const struct vx_chan *c);
enum vx_aead vx_chan_aead(const struct vx_chan *c);

#endif
