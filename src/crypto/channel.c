/* channel.c — one direction of an established session: AEAD records with an
 * implicit 64-bit counter nonce (Noise CipherState semantics).
 *
 * AES-256-GCM runs through GnuTLS's AEAD interface when it can (its stitched
 * AES-NI/PCLMUL code is about twice as fast as libsodium's here, and every
 * relayed byte crosses several of these), libsodium's otherwise; the bytes
 * are the same (tests/unit/test_channel.c checks both against libsodium).
 *
 * Nonce layout (12 bytes), as Noise defines it per cipher:
 *   ChaChaPoly: 4 zero bytes || counter, 64-bit little-endian
 *   AESGCM:     4 zero bytes || counter, 64-bit big-endian
 * The counter value 2^64-1 is reserved for Rekey() and never used for a
 * record.  Seal and open work in place and never allocate.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "crypto/channel.h"
#include "crypto/noise_private.h"
#include "lib/err.h"
#include "lib/log.h"

#define NONCE_LEN 12
#define NONCE_MAX UINT64_MAX

struct vx_chan {
    /* First member: libsodium wants the AES-GCM state 16-byte aligned and the
     * struct itself is allocated with that alignment. */
    crypto_aead_aes256gcm_state gcm;
    gnutls_aead_cipher_hd_t gt; /* AES-GCM through GnuTLS, or NULL */
    uint8_t key[VX_CHAN_KEY_LEN];
    uint64_t n;
    enum vx_aead aead;
};

int vx_aead_aesgcm_available(void)
{
    if (sodium_init() < 0)
        return 0;
    return crypto_aead_aes256gcm_is_available() ? 1 : 0;
}

const char *vx_aead_name(enum vx_aead a)
{
    switch (a) {
    case VX_AEAD_CHACHAPOLY:
        return "ChaChaPoly";
    case VX_AEAD_AESGCM:
        return "AESGCM";
    }
    return "unknown";
}

static void nonce_encode(enum vx_aead aead, uint64_t n, uint8_t out[NONCE_LEN])
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(n >> (8 * i));
        if (aead == VX_AEAD_CHACHAPOLY)
            out[4 + i] = b; /* little-endian */
        else
            out[11 - i] = b; /* big-endian */
    }
}

/* Encrypt with an explicit nonce; the tag goes to mac. */
static void chan_encrypt(struct vx_chan *c, uint64_t n, uint8_t *buf, size_t len, uint8_t *mac,
                         const uint8_t *ad, size_t adlen)
{
    uint8_t nonce[NONCE_LEN];

    nonce_encode(c->aead, n, nonce);
    if (c->aead == VX_AEAD_CHACHAPOLY) {
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, mac, NULL, buf, len, ad, adlen,
                                                           NULL, nonce, c->key);
        return;
    }
    if (c->gt) {
        giovec_t a = {(void *)ad, adlen}, m = {buf, len};
        size_t tl = VX_CHAN_TAG_LEN;
        if (gnutls_aead_cipher_encryptv2(c->gt, nonce, NONCE_LEN, &a, ad ? 1 : 0, &m, 1, mac, &tl) <
            0) {
            /* fixed sizes and a keyed handle: cannot happen; buf may be half
             * done, so nothing safe can be sent after this */
            log_err(LD_CRYPTO, "AES-GCM (GnuTLS) encryption failed");
            abort();
        }
        return;
    }
    crypto_aead_aes256gcm_encrypt_detached_afternm(buf, mac, NULL, buf, len, ad, adlen, NULL, nonce,
                                                   &c->gcm);
}

/* Key the AES-GCM state: GnuTLS when it takes the key, libsodium always (the
 * fallback, and cheap).  A fresh GnuTLS handle each time: 3.7's
 * gnutls_aead_cipher_set_key() leaves the GHASH key of the old one. */
static void chan_gcm_key(struct vx_chan *c)
{
    gnutls_datum_t k = {c->key, VX_CHAN_KEY_LEN};
    crypto_aead_aes256gcm_beforenm(&c->gcm, c->key);
    if (c->gt)
        gnutls_aead_cipher_deinit(c->gt);
    if (gnutls_aead_cipher_init(&c->gt, GNUTLS_CIPHER_AES_256_GCM, &k) < 0)
        c->gt = NULL;
}

struct vx_chan *vx_chan_new(enum vx_aead aead, const uint8_t key[VX_CHAN_KEY_LEN])
{
    struct vx_chan *c;

    if (sodium_init() < 0)
        abort();
    if (aead != VX_AEAD_CHACHAPOLY && aead != VX_AEAD_AESGCM)
        return NULL;
    if (aead == VX_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available()) {
        log_warn(LD_CRYPTO, "AES-256-GCM requested but this CPU lacks AES-NI/PCLMUL");
        return NULL;
    }
    c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
    if (!c)
        abort();
    memset(c, 0, sizeof(*c));
    c->aead = aead;
    memcpy(c->key, key, VX_CHAN_KEY_LEN);
    if (aead == VX_AEAD_AESGCM)
        chan_gcm_key(c);
    return c;
}

void vx_chan_free(struct vx_chan *c)
{
    if (!c)
        return;
    if (c->gt)
        gnutls_aead_cipher_deinit(c->gt); /* wipes its key schedule */
    sodium_memzero(c, sizeof(*c));
    free(c);
}

int vx_chan_seal(struct vx_chan *c, uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen)
{
    if (c->n == NONCE_MAX)
        return VX_ERR_LIMIT;
    chan_encrypt(c, c->n, buf, len, buf + len, ad, adlen);
    c->n++;
    return 0;
}

int vx_chan_open(struct vx_chan *c, uint8_t *buf, size_t len, const uint8_t *ad, size_t adlen)
{
    uint8_t nonce[NONCE_LEN];
    size_t mlen;
    int rc;

    if (len < VX_CHAN_TAG_LEN)
        return VX_ERR_TRUNC;
    if (c->n == NONCE_MAX)
        return VX_ERR_LIMIT;
    mlen = len - VX_CHAN_TAG_LEN;
    nonce_encode(c->aead, c->n, nonce);
    if (c->aead == VX_AEAD_CHACHAPOLY)
        rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, mlen, buf + mlen,
                                                                ad, adlen, nonce, c->key);
    else if (c->gt) {
        giovec_t a = {(void *)ad, adlen}, m = {buf, mlen};
        rc = gnutls_aead_cipher_decryptv2(c->gt, nonce, NONCE_LEN, &a, ad ? 1 : 0, &m, 1,
                                          buf + mlen, VX_CHAN_TAG_LEN);
        if (rc < 0)
            sodium_memzero(buf, mlen); /* GnuTLS decrypts before it checks */
    } else
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(buf, NULL, buf, mlen, buf + mlen, ad,
                                                            adlen, nonce, &c->gcm);
    if (rc != 0)
        return VX_ERR_CRYPTO;
    c->n++;
    return 0;
}

void vx_chan_rekey(struct vx_chan *c)
{
    uint8_t k[VX_CHAN_KEY_LEN] = {0};
    uint8_t mac[VX_CHAN_TAG_LEN];

    chan_encrypt(c, NONCE_MAX, k, sizeof(k), mac, NULL, 0);
    memcpy(c->key, k, sizeof(k));
    if (c->aead == VX_AEAD_AESGCM)
        chan_gcm_key(c);
    sodium_memzero(k, sizeof(k));
    sodium_memzero(mac, sizeof(mac));
}

uint64_t vx_chan_nonce(const struct vx_chan *c)
{
    return c->n;
}

enum vx_aead vx_chan_aead(const struct vx_chan *c)
{
    return c->aead;
}

void vx_chan_set_nonce(struct vx_chan *c, uint64_t n)
{
    c->n = n;
}
