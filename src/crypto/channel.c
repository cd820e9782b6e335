/* channel.c — one direction of an established session: AEAD records with an
 * implicit 64-bit counter nonce (Noise CipherState semantics).
 *
 * Nonce layout (12 bytes), as Noise defines it per cipher:
 *   ChaChaPoly: 4 zero bytes || counter, 64-bit little-endian
 *   AESGCM:     4 zero bytes || counter, 64-bit big-endian
 * The counter value 2^64-1 is reserved for Rekey() and never used for a
 * record.  Seal and open work in place and never allocate.
 *
 * ChaChaPoly runs on libsodium.  AES-256-GCM runs on GnuTLS's AEAD
 * (VAES/AVX-512 or AES-NI+PCLMUL code; about twice libsodium's AES-GCM on
 * 64 KiB records here); libsodium only decides whether the CPU has the
 * hardware support that makes AES-GCM the faster choice.
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
    gnutls_aead_cipher_hd_t gcm; /* AES-GCM only */
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

/* (Re)key the GnuTLS AES-GCM handle from c->key. */
static void gcm_key(struct vx_chan *c)
{
    gnutls_datum_t k = {.data = c->key, .size = VX_CHAN_KEY_LEN};

    if (c->gcm)
        gnutls_aead_cipher_deinit(c->gcm);
    c->gcm = NULL;
    if (gnutls_aead_cipher_init(&c->gcm, GNUTLS_CIPHER_AES_256_GCM, &k) < 0)
        abort(); /* only on allocation failure: AES-256-GCM is always built in */
}

/* In-place AES-GCM over buf with a detached tag.  encrypt: 1 seals (tag is
 * written), 0 opens (tag is checked).  0 or a GnuTLS error. */
static int gcm_run(struct vx_chan *c, int encrypt, const uint8_t nonce[NONCE_LEN], uint8_t *buf,
                   size_t len, uint8_t *tag, const uint8_t *ad, size_t adlen)
{
    giovec_t io = {.iov_base = buf, .iov_len = len};
    giovec_t aio = {.iov_base = (void *)(uintptr_t)ad, .iov_len = adlen};
    size_t tlen = VX_CHAN_TAG_LEN;

    if (encrypt)
        return gnutls_aead_cipher_encryptv2(c->gcm, nonce, NONCE_LEN, adlen ? &aio : NULL,
                                            adlen ? 1 : 0, len ? &io : NULL, len ? 1 : 0, tag,
                                            &tlen);
    return gnutls_aead_cipher_decryptv2(c->gcm, nonce, NONCE_LEN, adlen ? &aio : NULL,
                                        adlen ? 1 : 0, len ? &io : NULL, len ? 1 : 0, tag, tlen);
}

/* Encrypt with an explicit nonce; the tag goes to mac. */
static void chan_encrypt(struct vx_chan *c, uint64_t n, uint8_t *buf, size_t len, uint8_t *mac,
                         const uint8_t *ad, size_t adlen)
{
    uint8_t nonce[NONCE_LEN];

    nonce_encode(c->aead, n, nonce);
    if (c->aead == VX_AEAD_CHACHAPOLY)
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, mac, NULL, buf, len, ad, adlen,
                                                           NULL, nonce, c->key);
    else if (gcm_run(c, 1, nonce, buf, len, mac, ad, adlen) < 0)
        abort(); /* cannot fail with a valid handle and a 16-byte tag */
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
    c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->aead = aead;
    memcpy(c->key, key, VX_CHAN_KEY_LEN);
    if (aead == VX_AEAD_AESGCM)
        gcm_key(c);
    return c;
}

void vx_chan_free(struct vx_chan *c)
{
    if (!c)
        return;
    if (c->gcm)
        gnutls_aead_cipher_deinit(c->gcm); /* wipes its key schedule */
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
    else
        rc = gcm_run(c, 0, nonce, buf, mlen, buf + mlen, ad, adlen);
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
        gcm_key(c);
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
