/* fuzz_intro.c — INTRODUCE / RENDEZVOUS parsing.
 *
 * The first input byte picks what the rest is:
 *   0  an INTRODUCE as received by the service (and by an intro point);
 *   1  INTRODUCE plaintext, encrypted by the harness to the service's key
 *      with a fresh ephemeral, so the inner parser is reached;
 *   2  a RENDEZVOUS1 at the rendezvous point and its RENDEZVOUS2 part at a
 *      client waiting after a real INTRODUCE.
 * An INTRODUCE that opens must lead to matching keys on both sides.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hidden/intro.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1717286400ull

static struct vx_intro_svc svc;
static struct vx_hs_intro in;
static uint8_t rend_pk[32]; /* a real Ed25519 key for the rendezvous point */

static void init(void)
{
    static int done;
    if (done)
        return;
    if (sodium_init() < 0)
        abort();
    memset(svc.b, 0x5a, 32);
    crypto_scalarmult_base(svc.B, svc.b);
    memset(svc.auth_key, 0xa1, 32);
    memset(svc.subcred, 0xc3, 32);
    memcpy(in.auth_key, svc.auth_key, 32);
    memcpy(in.enc_key, svc.B, 32);
    {
        uint8_t seed[32], sk[64];
        memset(seed, 0x7e, sizeof(seed));
        crypto_sign_seed_keypair(rend_pk, sk, seed);
    }
    done = 1;
}

/* Encrypt an arbitrary plaintext as a client would (the body of
 * vx_intro_build() with the plaintext replaced). */
static int seal_raw(const uint8_t *pt_in, size_t n, uint8_t out[VX_INTRO_LEN])
{
    static const char c[] = "vx6 intro v1";
    uint8_t pt[VX_INTRO_PLAIN_LEN] = {0}, x[32], X[32], sh[32], kn[64];
    crypto_generichash_state st;

    memcpy(pt, pt_in, n < sizeof(pt) ? n : sizeof(pt));
    randombytes_buf(x, 32);
    crypto_scalarmult_base(X, x);
    if (crypto_scalarmult(sh, x, svc.B) != 0)
        return -1;
    crypto_generichash_init(&st, NULL, 0, 64);
    crypto_generichash_update(&st, (const uint8_t *)c, sizeof(c) - 1);
    crypto_generichash_update(&st, sh, 32);
    crypto_generichash_update(&st, svc.auth_key, 32);
    crypto_generichash_update(&st, X, 32);
    crypto_generichash_update(&st, svc.B, 32);
    crypto_generichash_update(&st, svc.subcred, 32);
    crypto_generichash_final(&st, kn, 64);
    out[0] = VX_INTRO_VERSION;
    memcpy(out + 1, svc.auth_key, 32);
    memcpy(out + 33, X, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 65, NULL, pt, sizeof(pt), out, 65, NULL,
                                               kn + 32, kn);
    return 0;
}

static void opened(const struct vx_intro_req *req, const uint8_t X[32], const uint8_t T[32])
{
    struct vx_hs_keys sk;
    uint8_t r1[VX_REND1_LEN];

    if (req->n_endpoints < 1 || req->n_endpoints > VX_HSDESC_MAX_EP)
        abort();
    if (vx_rend_build(&sk, &svc, req, X, T, NULL, r1, sizeof(r1)) != 0 &&
        !sodium_is_zero(sk.c2s, 32))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_intro_req req;
    struct vx_intro_client cl;
    struct vx_hs_keys ck;
    uint8_t msg[VX_INTRO_LEN], X[32], T[32], K[32], cookie[20], r2[64];
    int rc;

    init();
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        (void)vx_intro_auth_key(data + 1, size - 1, K);
        if (vx_intro_open(&req, X, T, &svc, data + 1, size - 1, NOW, NULL) == 0)
            opened(&req, X, T);
        break;
    case 1:
        if (seal_raw(data + 1, size - 1, msg) < 0)
            abort();
        rc = vx_intro_open(&req, X, T, &svc, msg, sizeof(msg), NOW, NULL);
        if (rc == 0)
            opened(&req, X, T);
        else if (rc != VX_ERR_INVAL && rc != VX_ERR_EXPIRED && rc != VX_ERR_TRUNC)
            abort(); /* it is well encrypted: only content errors remain */
        break;
    default:
        if (vx_rend1_split(data + 1, size - 1, cookie, r2) == 0) {
            memset(&req, 0, sizeof(req));
            req.epoch = NOW / VX_INTRO_EPOCH_S;
            req.n_endpoints = 1;
            req.ep[0].family = 4;
            req.ep[0].port = 1;
            req.ep[0].transports = 1;
            memcpy(req.rend_pk, rend_pk, 32);
            if (vx_intro_build(&cl, &req, &in, svc.subcred, NULL, msg, sizeof(msg)) != 0)
                abort();
            /* forged answers never pass */
            if (vx_rend_finish(&ck, &cl, r2, sizeof(r2)) == 0)
                abort();
        }
        (void)vx_rend_finish(&ck, &cl, data + 1, size - 1);
        break;
    }
    return 0;
}
