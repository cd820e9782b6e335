/* intro.h — INTRODUCE and RENDEZVOUS messages and their crypto (pure), and
 * the service's INTRODUCE replay cache.
 *
 * Parties: client C, introduction point I (knows only the per-intro auth
 * key K of the service), service S (holds, per intro point, the X25519 key
 * pair b/B published in the descriptor as the intro encryption key), and
 * rendezvous point R (matches a cookie).
 *
 * INTRODUCE (C -> I, relayed unchanged to S):
 *     u8 version (2)  [32] K  [32] X (client ephemeral X25519)
 *     ciphertext of VX_INTRO_PLAIN_LEN bytes + 16-byte tag, XChaCha20-Poly1305
 *     with the 56 bytes of BLAKE2b-512("vx6 intro v1" || X25519(x, B) || K ||
 *     X || B || subcredential) as key || nonce, associated data = the first
 *     65 bytes.  Plaintext: u64 epoch, [16] nonce, [20] rendezvous cookie,
 *     [32] rendezvous point's Ed25519 key, u8 n (1..2) endpoints of the
 *     rendezvous point, zero padding.  The service derives the node ID from
 *     the key and reaches the point at the endpoints given: it need not know
 *     it beforehand.  (Version 1 carried the node ID instead of the key.)
 *     A fresh X per message: the key is never reused.
 *
 * RENDEZVOUS1 (S -> R): [20] cookie [32] Y [32] AUTH;  R forwards
 * RENDEZVOUS2 = [32] Y [32] AUTH to the client whose cookie matched.
 *
 * Keys (hs-ntor-like; both sides compute the same secret):
 *     secret = X25519(y, X) || X25519(b, X) || K || B || X || Y || T || "vx6-hs-ntor-1"
 *            = X25519(x, Y) || X25519(x, B) || ...           (client side)
 *     T      = BLAKE2b-256 of the whole INTRODUCE message (transcript)
 *     seed   = BLAKE2b-256(key "vx6-hs-ntor-1:key_extract", secret)
 *     verify = BLAKE2b-256(key "vx6-hs-ntor-1:verify", secret)
 *     AUTH   = BLAKE2b-256(key "vx6-hs-ntor-1:mac", verify || K || B || Y || X || "Server")
 *     c2s || s2c = BLAKE2b-512(key seed, "vx6-hs-ntor-1:expand")
 * A client accepts RENDEZVOUS2 only if AUTH matches: only the holder of b
 * can produce it, and it binds the exact INTRODUCE the client sent.
 *
 * Replay: the service drops an INTRODUCE whose epoch (unix / 600) is not
 * within one of its own, or whose (nonce, epoch) it has seen before.
 */
#ifndef VX6_HIDDEN_INTRO_H
#define VX6_HIDDEN_INTRO_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "hidden/descriptor.h"

#define VX_INTRO_VERSION    2
#define VX_INTRO_EPOCH_S    600
#define VX_INTRO_COOKIE_LEN 20
#define VX_INTRO_NONCE_LEN  16
#define VX_INTRO_PLAIN_LEN  160
#define VX_INTRO_LEN        (1 + 32 + 32 + VX_INTRO_PLAIN_LEN + 16) /* 241 */
#define VX_REND1_LEN        (VX_INTRO_COOKIE_LEN + 32 + 32)         /* 84 */
#define VX_REND2_LEN        (32 + 32)                               /* 64 */

/* What INTRODUCE carries, encrypted. */
struct vx_intro_req {
    uint64_t epoch;
    uint8_t nonce[VX_INTRO_NONCE_LEN];
    uint8_t cookie[VX_INTRO_COOKIE_LEN];
    uint8_t rend_pk[VX_PK_LEN]; /* the rendezvous point's Ed25519 key */
    uint8_t n_endpoints;        /* where to reach it */
    struct vx_hs_endpoint ep[VX_HSDESC_MAX_EP];
};

/* End-to-end keys between client and service (for vx_chan_new()). */
struct vx_hs_keys {
    uint8_t c2s[32];
    uint8_t s2c[32];
};

/* The client's state between INTRODUCE and RENDEZVOUS2. */
struct vx_intro_client {
    uint8_t x[32], X[32];
    uint8_t auth_key[32], B[32];
    uint8_t transcript[32];
    uint8_t cookie[VX_INTRO_COOKIE_LEN];
};

/* The service's keys for one intro point. */
struct vx_intro_svc {
    uint8_t auth_key[32];
    uint8_t b[32], B[32];
    uint8_t subcred[32];
};

/* Epoch of unix time t. */
uint64_t vx_intro_epoch(uint64_t t);

/* Client: build INTRODUCE to the intro point `in` of a service with
 * subcredential subcred.  req->epoch, nonce and cookie are used as given
 * (callers fill nonce and cookie with random bytes; vx_intro_req_fill()).
 * eph: 32 bytes to derive the ephemeral key from (NULL: random; tests).
 * Writes VX_INTRO_LEN bytes to out.  0, VX_ERR_INVAL (bad endpoints, or
 * rend_pk is not a usable Ed25519 key), VX_ERR_TOOBIG (cap), VX_ERR_CRYPTO
 * (B is a bad key). */
int vx_intro_build(struct vx_intro_client *st, const struct vx_intro_req *req,
                   const struct vx_hs_intro *in, const uint8_t subcred[32], const uint8_t *eph,
                   uint8_t *out, size_t cap);

/* Fill epoch (from now), a random nonce and cookie, and the rendezvous
 * point (its Ed25519 key and endpoints). */
void vx_intro_req_fill(struct vx_intro_req *req, uint64_t now, const uint8_t rend_pk[VX_PK_LEN],
                       const struct vx_hs_endpoint *eps, size_t n);

/* Intro point: the auth key an INTRODUCE is for (to find the service's
 * circuit).  0, VX_ERR_TRUNC/VX_ERR_INVAL (wrong length), VX_ERR_VERSION. */
int vx_intro_auth_key(const uint8_t *msg, size_t len, uint8_t auth_key[32]);

struct vx_replay;

/* Service: decrypt and check an INTRODUCE received through intro point
 * svc.  0 with req, the client's X and the transcript hash filled;
 * VX_ERR_TRUNC/VX_ERR_INVAL/VX_ERR_VERSION (malformed, or a rendezvous key
 * that is not a usable Ed25519 key), VX_ERR_PEER_ID (for
 * another auth key), VX_ERR_CRYPTO (tampered, or not for this key),
 * VX_ERR_EXPIRED (epoch not within one of now's), VX_ERR_REPLAY (seen).
 * rc may be NULL (no replay check: tests only).  The subcredential depends
 * on the period: while descriptors of two periods are live (near a
 * boundary) a service that gets VX_ERR_CRYPTO retries with the other
 * period's subcredential in svc. */
int vx_intro_open(struct vx_intro_req *req, uint8_t X[32], uint8_t transcript[32],
                  const struct vx_intro_svc *svc, const uint8_t *msg, size_t len, uint64_t now,
                  struct vx_replay *rc);

/* Service: answer an opened INTRODUCE.  Writes RENDEZVOUS1 (VX_REND1_LEN)
 * and derives the keys.  eph as for vx_intro_build.  0 or VX_ERR_CRYPTO
 * (X is a small-order key), VX_ERR_TOOBIG. */
int vx_rend_build(struct vx_hs_keys *keys, const struct vx_intro_svc *svc,
                  const struct vx_intro_req *req, const uint8_t X[32], const uint8_t transcript[32],
                  const uint8_t *eph, uint8_t *out, size_t cap);

/* Rendezvous point: cookie and RENDEZVOUS2 body of a RENDEZVOUS1.
 * 0 or VX_ERR_INVAL (wrong length). */
int vx_rend1_split(const uint8_t *msg, size_t len, uint8_t cookie[VX_INTRO_COOKIE_LEN],
                   uint8_t rend2[VX_REND2_LEN]);

/* Client: check RENDEZVOUS2 and derive the keys.  0, VX_ERR_INVAL (wrong
 * length), VX_ERR_CRYPTO (AUTH does not match). st is wiped on success. */
int vx_rend_finish(struct vx_hs_keys *keys, struct vx_intro_client *st, const uint8_t *msg,
                   size_t len);

void vx_intro_client_wipe(struct vx_intro_client *st);

/* Replay cache: (nonce, epoch) pairs seen, at most max entries (the
 * oldest is evicted when full, and counted); entries older than the
 * accepted window are dropped. Never returns NULL. */
struct vx_replay *vx_replay_new(size_t max);
void vx_replay_free(struct vx_replay *rc);
/* 0 (new, now recorded), VX_ERR_REPLAY (seen: counted) or VX_ERR_EXPIRED
 * (epoch outside [now_epoch - 1, now_epoch + 1]: counted). */
int vx_replay_check(struct vx_replay *rc, const uint8_t nonce[VX_INTRO_NONCE_LEN], uint64_t epoch,
                    uint64_t now_epoch);

struct vx_replay_stats {
    size_t entries;
    uint64_t accepted, replays, wrong_epoch, evicted;
};
void vx_replay_stats(const struct vx_replay *rc, struct vx_replay_stats *st);

#endif
