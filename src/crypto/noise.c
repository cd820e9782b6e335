/* noise.c — Noise XX and IK handshakes, 25519 / ChaChaPoly / BLAKE2b.
 *
 * A direct implementation of the Noise Protocol Framework (revision 34):
 * CipherState, SymmetricState (HASHLEN 64, BLOCKLEN 128, HMAC and HKDF of
 * section 4.3) and HandshakeState, with the token sequences of XX and IK.
 * VX6 adds one thing on top: the payload of a message that carries a static
 * key starts with the sender's Ed25519 public key, which the reader checks
 * against that static key (vx_pk_to_x25519).  Pure computation, no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "crypto/noise.h"
#include "crypto/noise_private.h"
#include "lib/err.h"
#include "lib/log.h"

#define DHLEN     32
#define HASHLEN   64
#define BLOCKLEN  128
#define KEYLEN    32
#define TAGLEN    16
#define NONCE_MAX UINT64_MAX

/* ---- CipherState (handshake phase, ChaChaPoly) ---- */

struct cipherstate {
    uint8_t k[KEYLEN];
    uint64_t n;
    int has_key;
};

static void cs_nonce(uint64_t n, uint8_t nonce[12])
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* Encrypt buf[0..len) in place, tag at buf[len..len+16). */
static int cs_encrypt(struct cipherstate *cs, const uint8_t *ad, size_t adlen, uint8_t *buf,
                      size_t len)
{
    uint8_t nonce[12];

    if (cs->n == NONCE_MAX)
        return VX_ERR_LIMIT;
    cs_nonce(cs->n, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL, buf, len, ad, adlen,
                                                       NULL, nonce, cs->k);
    cs->n++;
    return 0;
}

/* Decrypt ct[0..ctlen) (tag included) into out[0..ctlen-16). */
static int cs_decrypt(struct cipherstate *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                      size_t ctlen, uint8_t *out)
{
    uint8_t nonce[12];

    if (cs->n == NONCE_MAX)
        return VX_ERR_LIMIT;
    if (ctlen < TAGLEN)
        return VX_ERR_TRUNC;
    cs_nonce(cs->n, nonce);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                out, NULL, ct, ctlen - TAGLEN, ct + ctlen - TAGLEN, ad, adlen, nonce, cs->k) != 0)
        return VX_ERR_CRYPTO;
    cs->n++;
    return 0;
}

/* ---- Hash, HMAC-BLAKE2b, HKDF ---- */

static void hash2(uint8_t out[HASHLEN], const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, a, alen);
    if (blen)
        crypto_generichash_update(&st, b, blen);
    crypto_generichash_final(&st, out, HASHLEN);
    sodium_memzero(&st, sizeof(st));
}

/* HMAC-HASH(key, d1 || d2) as in RFC 2104 with BLAKE2b-512 and a 128-byte
 * block; Noise keys are never longer than HASHLEN. */
static void hmac(uint8_t out[HASHLEN], const uint8_t key[HASHLEN], const uint8_t *d1, size_t l1,
                 const uint8_t *d2, size_t l2)
{
    uint8_t pad[BLOCKLEN], inner[HASHLEN];
    crypto_generichash_state st;

    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < HASHLEN; i++)
        pad[i] ^= key[i];
    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, pad, sizeof(pad));
    if (l1)
        crypto_generichash_update(&st, d1, l1);
    if (l2)
        crypto_generichash_update(&st, d2, l2);
    crypto_generichash_final(&st, inner, HASHLEN);

    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < HASHLEN; i++)
        pad[i] ^= key[i];
    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, pad, sizeof(pad));
    crypto_generichash_update(&st, inner, sizeof(inner));
    crypto_generichash_final(&st, out, HASHLEN);

    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner, sizeof(inner));
    sodium_memzero(&st, sizeof(st));
}

/* HKDF(chaining_key, ikm) with two outputs (Noise section 4.3). */
static void hkdf2(const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikmlen,
                  uint8_t out1[HASHLEN], uint8_t out2[HASHLEN])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t temp_key[HASHLEN], o1[HASHLEN];

    hmac(temp_key, ck, ikm, ikmlen, NULL, 0);
    hmac(o1, temp_key, &one, 1, NULL, 0);
    hmac(out2, temp_key, o1, HASHLEN, &two, 1);
    memcpy(out1, o1, HASHLEN);
    sodium_memzero(temp_key, sizeof(temp_key));
    sodium_memzero(o1, sizeof(o1));
}

/* ---- SymmetricState ---- */

struct symstate {
    struct cipherstate cs;
    uint8_t ck[HASHLEN];
    uint8_t h[HASHLEN];
};

static void ss_init(struct symstate *ss, const char *name)
{
    size_t len = strlen(name);

    memset(ss, 0, sizeof(*ss));
    if (len <= HASHLEN)
        memcpy(ss->h, name, len); /* zero-padded */
    else
        hash2(ss->h, (const uint8_t *)name, len, NULL, 0);
    memcpy(ss->ck, ss->h, HASHLEN);
}

static void ss_mix_hash(struct symstate *ss, const uint8_t *data, size_t len)
{
    hash2(ss->h, ss->h, HASHLEN, data, len);
}

static void ss_mix_key(struct symstate *ss, const uint8_t *ikm, size_t len)
{
    uint8_t ck[HASHLEN], k[HASHLEN];

    hkdf2(ss->ck, ikm, len, ck, k);
    memcpy(ss->ck, ck, HASHLEN);
    memcpy(ss->cs.k, k, KEYLEN); /* truncated to 32 bytes */
    ss->cs.n = 0;
    ss->cs.has_key = 1;
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(k, sizeof(k));
}

/* buf[0..len) holds the plaintext; on return buf holds the ciphertext and
 * *outlen its length (len, or len + 16 once a key is set). */
static int ss_encrypt_and_hash(struct symstate *ss, uint8_t *buf, size_t len, size_t *outlen)
{
    int rc;

    if (ss->cs.has_key) {
        rc = cs_encrypt(&ss->cs, ss->h, HASHLEN, buf, len);
        if (rc < 0)
            return rc;
        len += TAGLEN;
    }
    ss_mix_hash(ss, buf, len);
    *outlen = len;
    return 0;
}

/* ct[0..ctlen) -> out[0..ctlen - taglen). */
static int ss_decrypt_and_hash(struct symstate *ss, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
    int rc;

    if (ss->cs.has_key) {
        rc = cs_decrypt(&ss->cs, ss->h, HASHLEN, ct, ctlen, out);
        if (rc < 0)
            return rc;
    } else if (ctlen) {
        memcpy(out, ct, ctlen);
    }
    ss_mix_hash(ss, ct, ctlen);
    return 0;
}

/* ---- HandshakeState ---- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

#define MAX_MSGS   3
#define MAX_TOKENS 5

struct pattern {
    const char *name;
    int nmsgs;
    uint8_t msgs[MAX_MSGS][MAX_TOKENS];
};

static const struct pattern pattern_xx = {
        "Noise_XX_25519_ChaChaPoly_BLAKE2b",
        3,
        {{T_E, T_END}, {T_E, T_EE, T_S, T_ES, T_END}, {T_S, T_SE, T_END}},
};

/* Pre-message: <- s (the initiator knows the responder's static key). */
static const struct pattern pattern_ik = {
        "Noise_IK_25519_ChaChaPoly_BLAKE2b",
        2,
        {{T_E, T_ES, T_S, T_SS, T_END}, {T_E, T_EE, T_SE, T_END}},
};

struct vx_noise {
    struct symstate ss;
    const struct pattern *pat;
    int initiator;
    int msg; /* index of the next message to write or read */
    int err; /* sticky failure; 0 while usable */
    int raw; /* test vectors: no Ed25519 prefix */
    int has_rs;
    int fixed_e;
    int expect_remote; /* remote_ed was given by the caller */
    int have_remote;   /* remote_ed is known (given or proven) */
    uint8_t s_sk[DHLEN], s_pk[DHLEN];
    uint8_t e_sk[DHLEN], e_pk[DHLEN];
    uint8_t rs[DHLEN], re[DHLEN];
    uint8_t self_ed[VX_PK_LEN];
    uint8_t remote_ed[VX_PK_LEN];
};

static struct vx_noise *noise_alloc(int initiator, enum vx_noise_pattern pattern)
{
    struct vx_noise *n;

    if (sodium_init() < 0)
        abort();
    n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->initiator = initiator ? 1 : 0;
    if (pattern == VX_NOISE_XX) {
        n->pat = &pattern_xx;
    } else if (pattern == VX_NOISE_IK) {
        n->pat = &pattern_ik;
    } else {
        n->pat = &pattern_xx;
        n->err = VX_ERR_INVAL;
    }
    ss_init(&n->ss, n->pat->name);
    return n;
}

/* Prologue and pre-messages, after the keys are in place. */
static void noise_start(struct vx_noise *n, const uint8_t *prologue, size_t prologue_len)
{
    ss_mix_hash(&n->ss, prologue, prologue_len);
    if (n->pat == &pattern_ik) {
        if (n->initiator) {
            if (!n->has_rs && !n->err)
                n->err = VX_ERR_INVAL;
            ss_mix_hash(&n->ss, n->rs, DHLEN);
        } else {
            ss_mix_hash(&n->ss, n->s_pk, DHLEN);
        }
    }
}

struct vx_noise *vx_noise_new(int initiator, enum vx_noise_pattern pattern,
                              const struct vx_identity *self, const uint8_t *remote_pk,
                              const uint8_t *prologue, size_t prologue_len)
{
    struct vx_noise *n = noise_alloc(initiator, pattern);

    memcpy(n->s_sk, self->x_sk, DHLEN);
    memcpy(n->s_pk, self->x_pk, DHLEN);
    memcpy(n->self_ed, self->pk, VX_PK_LEN);
    if (remote_pk) {
        memcpy(n->remote_ed, remote_pk, VX_PK_LEN);
        n->expect_remote = 1;
        if (pattern == VX_NOISE_IK && n->initiator) {
            if (vx_pk_to_x25519(remote_pk, n->rs) < 0) {
                log_warn(LD_CRYPTO, "handshake: the peer's public key is not a valid point");
                n->err = VX_ERR_PEER_ID;
            } else {
                n->has_rs = 1;
                n->have_remote = 1;
            }
        }
    }
    noise_start(n, prologue, prologue_len);
    return n;
}

struct vx_noise *vx_noise_new_raw(int initiator, enum vx_noise_pattern pattern,
                                  const uint8_t s_sk[32], const uint8_t rs[32],
                                  const uint8_t e_sk[32], const uint8_t *prologue,
                                  size_t prologue_len)
{
    struct vx_noise *n = noise_alloc(initiator, pattern);

    n->raw = 1;
    if (s_sk) {
        memcpy(n->s_sk, s_sk, DHLEN);
        crypto_scalarmult_base(n->s_pk, n->s_sk);
    }
    if (rs) {
        memcpy(n->rs, rs, DHLEN);
        n->has_rs = 1;
    }
    if (e_sk) {
        memcpy(n->e_sk, e_sk, DHLEN);
        n->fixed_e = 1;
    }
    noise_start(n, prologue, prologue_len);
    return n;
}

void vx_noise_set_ephemeral(struct vx_noise *n, const uint8_t e_sk[32])
{
    memcpy(n->e_sk, e_sk, DHLEN);
    n->fixed_e = 1;
}

void vx_noise_free(struct vx_noise *n)
{
    if (!n)
        return;
    sodium_memzero(n, sizeof(*n));
    free(n);
}

static int is_writer(const struct vx_noise *n)
{
    return (n->msg % 2 == 0) == (n->initiator == 1);
}

int vx_noise_want_write(const struct vx_noise *n)
{
    return !n->err && n->msg < n->pat->nmsgs && is_writer(n);
}

int vx_noise_done(const struct vx_noise *n)
{
    return !n->err && n->msg == n->pat->nmsgs;
}

static int msg_has_s(const uint8_t *toks)
{
    for (; *toks != T_END; toks++)
        if (*toks == T_S)
            return 1;
    return 0;
}

/* Bytes the tokens of a message take, and whether a key is set after them. */
static size_t tokens_len(const struct vx_noise *n, const uint8_t *toks, int *keyed)
{
    int k = n->ss.cs.has_key;
    size_t len = 0;

    for (; *toks != T_END; toks++) {
        switch (*toks) {
        case T_E:
            len += DHLEN;
            break;
        case T_S:
            len += DHLEN + (k ? TAGLEN : 0);
            break;
        default:
            k = 1;
            break;
        }
    }
    *keyed = k;
    return len;
}

static int dh_token(struct vx_noise *n, enum token t)
{
    const uint8_t *sk, *pk;
    uint8_t out[DHLEN];
    int init = n->initiator;

    switch (t) {
    case T_EE: /* e with re */
        sk = n->e_sk;
        pk = n->re;
        break;
    case T_ES: /* the initiator's e with the responder's s */
        sk = init ? n->e_sk : n->s_sk;
        pk = init ? n->rs : n->re;
        break;
    case T_SE: /* the initiator's s with the responder's e */
        sk = init ? n->s_sk : n->e_sk;
        pk = init ? n->re : n->rs;
        break;
    case T_SS:
        sk = n->s_sk;
        pk = n->rs;
        break;
    default:
        return VX_ERR_INTERNAL;
    }
    /* libsodium refuses an all-zero result (a low-order peer key). */
    if (crypto_scalarmult(out, sk, pk) != 0) {
        sodium_memzero(out, sizeof(out));
        return VX_ERR_CRYPTO;
    }
    ss_mix_key(&n->ss, out, DHLEN);
    sodium_memzero(out, sizeof(out));
    return 0;
}

static int fail(struct vx_noise *n, int rc)
{
    n->err = rc;
    /* The transcript is worthless now: drop the keys early. */
    sodium_memzero(&n->ss, sizeof(n->ss));
    sodium_memzero(n->e_sk, sizeof(n->e_sk));
    return rc;
}

int vx_noise_write(struct vx_noise *n, const uint8_t *payload, size_t plen, uint8_t *out,
                   size_t cap, size_t *outlen)
{
    const uint8_t *toks;
    size_t off = 0, total, pre, clen;
    int keyed, rc;

    if (n->err || !vx_noise_want_write(n))
        return VX_ERR_INVAL;
    toks = n->pat->msgs[n->msg];
    pre = (!n->raw && msg_has_s(toks)) ? VX_PK_LEN : 0;
    total = tokens_len(n, toks, &keyed);
    if (plen > VX_NOISE_MAX_MSG)
        return VX_ERR_TOOBIG;
    total += pre + plen + (keyed ? TAGLEN : 0);
    if (total > VX_NOISE_MAX_MSG || total > cap)
        return VX_ERR_TOOBIG;

    for (; *toks != T_END; toks++) {
        switch (*toks) {
        case T_E:
            if (!n->fixed_e)
                randombytes_buf(n->e_sk, DHLEN);
            crypto_scalarmult_base(n->e_pk, n->e_sk);
            memcpy(out + off, n->e_pk, DHLEN);
            ss_mix_hash(&n->ss, n->e_pk, DHLEN);
            off += DHLEN;
            break;
        case T_S:
            memcpy(out + off, n->s_pk, DHLEN);
            rc = ss_encrypt_and_hash(&n->ss, out + off, DHLEN, &clen);
            if (rc < 0)
                return fail(n, rc);
            off += clen;
            break;
        default:
            rc = dh_token(n, (enum token) * toks);
            if (rc < 0)
                return fail(n, rc);
            break;
        }
    }
    if (plen)
        memmove(out + off + pre, payload, plen);
    if (pre)
        memcpy(out + off, n->self_ed, pre);
    rc = ss_encrypt_and_hash(&n->ss, out + off, pre + plen, &clen);
    if (rc < 0)
        return fail(n, rc);
    off += clen;
    n->msg++;
    *outlen = off;
    return 0;
}

/* The sender's Ed25519 key at the start of a payload must be the one whose
 * X25519 form the handshake just authenticated as its static key. */
static int check_remote_ed(struct vx_noise *n, const uint8_t ed[VX_PK_LEN])
{
    uint8_t x[VX_X25519_LEN];
    int ok;

    if (vx_pk_to_x25519(ed, x) < 0)
        return VX_ERR_PEER_ID;
    ok = sodium_memcmp(x, n->rs, DHLEN) == 0;
    sodium_memzero(x, sizeof(x));
    if (!ok)
        return VX_ERR_PEER_ID;
    if (n->expect_remote && sodium_memcmp(ed, n->remote_ed, VX_PK_LEN) != 0)
        return VX_ERR_PEER_ID;
    memcpy(n->remote_ed, ed, VX_PK_LEN);
    n->have_remote = 1;
    return 0;
}

int vx_noise_read(struct vx_noise *n, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *plen)
{
    const uint8_t *toks;
    uint8_t *plain = NULL;
    size_t off = 0, fixed, pre, tag, body, ptlen;
    int keyed, rc;

    if (n->err || n->msg >= n->pat->nmsgs || is_writer(n))
        return VX_ERR_INVAL;
    if (len > VX_NOISE_MAX_MSG)
        return fail(n, VX_ERR_TOOBIG);
    toks = n->pat->msgs[n->msg];
    pre = (!n->raw && msg_has_s(toks)) ? VX_PK_LEN : 0;
    fixed = tokens_len(n, toks, &keyed);
    tag = keyed ? TAGLEN : 0;
    if (len < fixed + pre + tag)
        return fail(n, VX_ERR_TRUNC);
    body = len - fixed;
    ptlen = body - tag - pre;
    if (ptlen > cap)
        return VX_ERR_TOOBIG; /* nothing consumed: the caller may retry */

    for (; *toks != T_END; toks++) {
        switch (*toks) {
        case T_E:
            memcpy(n->re, msg + off, DHLEN);
            ss_mix_hash(&n->ss, n->re, DHLEN);
            off += DHLEN;
            break;
        case T_S: {
            size_t slen = DHLEN + (n->ss.cs.has_key ? TAGLEN : 0);
            rc = ss_decrypt_and_hash(&n->ss, msg + off, slen, n->rs);
            if (rc < 0)
                return fail(n, rc);
            n->has_rs = 1;
            off += slen;
            break;
        }
        default:
            rc = dh_token(n, (enum token) * toks);
            if (rc < 0)
                return fail(n, rc);
            break;
        }
    }

    plain = malloc(body ? body : 1);
    if (!plain)
        abort();
    rc = ss_decrypt_and_hash(&n->ss, msg + off, body, plain);
    if (rc < 0)
        goto out;
    if (pre) {
        rc = check_remote_ed(n, plain);
        if (rc < 0) {
            log_info(LD_CRYPTO, "handshake: the peer's identity key does not match its "
                                "static key or the expected key");
            goto out;
        }
    }
    if (ptlen)
        memcpy(payload, plain + pre, ptlen);
    *plen = ptlen;
    n->msg++;
out:
    sodium_memzero(plain, body ? body : 1);
    free(plain);
    if (rc < 0)
        return fail(n, rc);
    return 0;
}

int vx_noise_remote_pk(const struct vx_noise *n, uint8_t pk[VX_PK_LEN])
{
    if (n->raw || !vx_noise_done(n) || !n->have_remote)
        return VX_ERR_INVAL;
    memcpy(pk, n->remote_ed, VX_PK_LEN);
    return 0;
}

int vx_noise_handshake_hash(const struct vx_noise *n, uint8_t h[64])
{
    if (!vx_noise_done(n))
        return VX_ERR_INVAL;
    memcpy(h, n->ss.h, HASHLEN);
    return 0;
}

int vx_noise_split(struct vx_noise *n, enum vx_aead aead, struct vx_chan **tx, struct vx_chan **rx)
{
    uint8_t k1[HASHLEN], k2[HASHLEN];
    struct vx_chan *c1, *c2;

    if (!vx_noise_done(n))
        return VX_ERR_INVAL;
    hkdf2(n->ss.ck, NULL, 0, k1, k2);
    c1 = vx_chan_new(aead, k1);
    c2 = vx_chan_new(aead, k2);
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    if (!c1 || !c2) {
        vx_chan_free(c1);
        vx_chan_free(c2);
        return VX_ERR_INVAL;
    }
    *tx = n->initiator ? c1 : c2;
    *rx = n->initiator ? c2 : c1;
    return 0;
}
