/* descriptor.h — hidden-service descriptors (pure encode/decode, no I/O).
 *
 * A descriptor tells a client how to introduce itself to the hidden service
 * A for one time period n (crypto/blind.h).  It is stored in the DHT under
 * keys derived from the blinded key A' (vx_hsdesc_positions()), so holders
 * never see A.  Layout (big-endian):
 *
 *   outer:  u8 version (1)  [32] A'  u64 period  u64 revision  u64 expires
 *           u16 len  [len] layer 1 = salt(16) || XChaCha20-Poly1305(ct || tag)
 *           [64] Ed25519 signature by A' over "vx6 hsdesc v1" || all above
 *   layer 1 (key from the subcredential, so only who knows A can read it):
 *           u8 auth (0 none, 1 x25519)
 *           auth 1: [32] ephemeral X25519 key E, u8 n (1..16),
 *                   n x { [8] client id, [32] cookie XOR client key }
 *           u16 len  [len] layer 2 = salt(16) || ct || tag
 *           zero padding (to 640 bytes, beyond that to a multiple of 128,
 *           so the number of intro points does not show)
 *   layer 2 (key from the subcredential and the cookie when auth = 1):
 *           u8 n (1..5), n x intro point:
 *             u8 flags (bit 0: standby), [32] intro node Ed25519 key,
 *             u8 m (1..2), m x endpoint (u8 family 4|6, [4|16] address,
 *             u16 port != 0, u8 transports 1..3), [32] intro auth key
 *             (Ed25519), [32] intro encryption key (X25519)
 *
 *   credential    = BLAKE2b-256("vx6 hs credential" || A)
 *   subcredential = BLAKE2b-256("vx6 hs subcredential" || credential || A'
 *                               || u64 period)
 *   layer keys    = BLAKE2b-512("vx6 hsdesc layer1"|"vx6 hsdesc layer2" ||
 *                               subcredential || A' || u64 period ||
 *                               u64 revision || salt [|| cookie]) -> key(32),
 *                   nonce(24); the outer header (version .. expires) is the
 *                   associated data of both layers.
 *   client entry  = BLAKE2b-512("vx6 hsdesc client" || subcredential ||
 *                               X25519(e, client) || E) -> id(8) .. key(32)
 *
 * Holders check the outer layer only (vx_hsdesc_parse_outer()); clients
 * decrypt with vx_hsdesc_decode().
 */
#ifndef VX6_HIDDEN_DESCRIPTOR_H
#define VX6_HIDDEN_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/record.h"

#define VX_HSDESC_VERSION      1
#define VX_HSDESC_MAX          2048 /* bytes, encoded */
#define VX_HSDESC_MAX_INTROS   5
#define VX_HSDESC_ACTIVE       3 /* active intro points; the rest are standby */
#define VX_HSDESC_MAX_EP       2 /* endpoints per intro point */
#define VX_HSDESC_MAX_CLIENTS  16
#define VX_HSDESC_LIFETIME     (3 * 3600) /* default expires - now */
#define VX_HSDESC_MAX_LIFETIME (2 * 86400)
#define VX_HS_COOKIE_KEY_LEN   32

#define VX_HS_INTRO_STANDBY 0x01

struct vx_hs_endpoint {
    uint8_t family;     /* 4 or 6 */
    uint8_t transports; /* 1 tcp, 2 quic */
    uint16_t port;
    uint8_t addr[16]; /* IPv4: the first 4 bytes */
};

struct vx_hs_intro {
    uint8_t flags;                   /* VX_HS_INTRO_STANDBY */
    uint8_t node_pk[VX_PK_LEN];      /* the intro node's Ed25519 key */
    uint8_t node_id[VX_NODE_ID_LEN]; /* derived from node_pk (decode fills it) */
    uint8_t n_endpoints;
    struct vx_hs_endpoint ep[VX_HSDESC_MAX_EP];
    uint8_t auth_key[VX_PK_LEN];    /* per-intro Ed25519 auth key (names the service there) */
    uint8_t enc_key[VX_X25519_LEN]; /* per-intro X25519 key INTRODUCE is encrypted to */
};

/* The outer layer, as every holder can check it. */
struct vx_hsdesc_outer {
    uint8_t version;
    uint8_t blinded_pk[VX_PK_LEN];
    uint64_t period;
    uint64_t revision;
    uint64_t expires;
};

struct vx_hsdesc {
    struct vx_hsdesc_outer o;
    int auth_required; /* decode: the body was encrypted to authorized clients */
    uint8_t n_intros;
    struct vx_hs_intro intros[VX_HSDESC_MAX_INTROS];
};

/* credential/subcredential (above) for A and a period.  0 or VX_ERR_BADADDR. */
int vx_hs_subcredential(const uint8_t pk[VX_PK_LEN], uint64_t period, uint8_t out[32]);

/* Encode and sign d for service key svc: d->o.period, revision and expires
 * and the intro points are used; version and blinded_pk are filled in.
 * clients: X25519 public keys of authorized clients (n 0 = no client
 * authorization).  rnd: 32 bytes all salts, the cookie and the ephemeral key
 * are derived from (NULL: random; tests pass fixed bytes for vectors).
 * Returns the length, VX_ERR_INVAL (no intro point, bad endpoint, too many
 * clients), VX_ERR_TOOBIG (cap) or VX_ERR_CRYPTO. */
int vx_hsdesc_encode(struct vx_hsdesc *d, const struct vx_identity *svc,
                     const uint8_t (*clients)[VX_X25519_LEN], size_t n_clients, const uint8_t *rnd,
                     uint8_t *out, size_t cap);

/* Holder check: strict syntax, version, signature under the included A',
 * expiry and period at `now`.  0, VX_ERR_TRUNC/VX_ERR_INVAL/VX_ERR_TOOBIG
 * (malformed), VX_ERR_VERSION, VX_ERR_BADSIG, VX_ERR_EXPIRED (expired, or a
 * period that has ended), VX_ERR_INVAL (lifetime or period too far ahead). */
int vx_hsdesc_parse_outer(struct vx_hsdesc_outer *o, const uint8_t *in, size_t len, uint64_t now);

/* Client: parse_outer, then check that A' is A blinded for that period
 * (VX_ERR_BADSIG if not: a descriptor of another service), decrypt and parse
 * the body.  client_sk: the client's X25519 secret key, or NULL.  Adds
 * VX_ERR_CRYPTO (layer 1 does not decrypt: corrupt), VX_ERR_AUTH_MISSING
 * (authorization required, no key given), VX_ERR_AUTH (the key is not
 * authorized), VX_ERR_INVAL (malformed body). */
int vx_hsdesc_decode(struct vx_hsdesc *d, const uint8_t *in, size_t len,
                     const uint8_t pk[VX_PK_LEN], const uint8_t *client_sk, uint64_t now);

/* May descriptor `nw` replace `old` (a holder's copy, or the newest a client
 * has seen)?  0 if it is for the same A' and period with a higher revision;
 * VX_ERR_STALE if the revision is not higher (a replay or an old copy);
 * VX_ERR_INVAL if it is for another key or period. */
int vx_hsdesc_replaces(const struct vx_hsdesc_outer *nw, const struct vx_hsdesc_outer *old);

/* The DHT keys a descriptor is stored under (VX_HSDESC_REPLICAS of them,
 * from wire/record.h): BLAKE2b-256("vx6 hsdir" || A' || u64 period ||
 * u8 replica), replica 0..2.  Each is stored at the k closest nodes to it,
 * as an HSDESC record. */
void vx_hsdesc_positions(const uint8_t blinded_pk[VX_PK_LEN], uint64_t period,
                         uint8_t keys[VX_HSDESC_REPLICAS][32]);

/* Endpoint codec shared with the introduction messages: 0 or VX_ERR_*. */
struct vx_rcur;
struct vx_wcur;
int vx_hs_endpoint_put(struct vx_wcur *w, const struct vx_hs_endpoint *ep);
int vx_hs_endpoint_get(struct vx_rcur *r, struct vx_hs_endpoint *ep);

#endif
