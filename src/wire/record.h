/* record.h — signed discovery records (NODE, SERVICE, USERNAME).
 *
 * A record has one canonical binary encoding (big-endian integers, fields in
 * a fixed order, strings prefixed by a one-byte length):
 *
 *     u8  version (1)          u8  type (1 NODE, 2 SERVICE, 3 USERNAME)
 *     u64 seq                  u64 issued (unix s)      u64 expires (unix s)
 *     [32] signer Ed25519 public key
 *     type fields (below)
 *     [64] Ed25519 signature over "vx6 record v1" || everything above
 *
 *     NODE:     [32] node ID, u8 n (<= 8), n x endpoint
 *               endpoint = u8 family (4|6), [4|16] address, u16 port (!= 0),
 *                          u8 transports (bitmask, tcp=1 quic=2, != 0, no other bit)
 *     SERVICE:  str USER, str SERVICE, [32] node ID, u32 flags, u8 n (<= 64),
 *               n x u16 virtual port (no target address ever);
 *               flags: ANYPORT 1, RELAY 2, DIRECT 4 (RELAY and DIRECT never both)
 *     USERNAME: str USER  (the name is claimed for the signer key)
 *     HSDESC:   u8 replica (0..2), u16 len, [len] hidden-service descriptor
 *               (hidden/descriptor.h); the signer is the descriptor's blinded
 *               key (crypto/blind.h), seq its revision, expires its expiry
 *
 * Labels (USER, SERVICE) are 1..63 characters of [a-z0-9-], not starting or
 * ending with '-'.  Decoding is strict: trailing bytes, unknown versions or
 * types, out-of-range values and non-canonical labels are rejected, so
 * re-encoding a decoded record gives back the same bytes.
 *
 * Key consistency: a NODE record's node ID is BLAKE2b-256(signer key); a
 * SERVICE record's node ID is that of its signer (only the node itself can
 * announce its services); a USERNAME record names its signer key.
 *
 * DHT keys: NODE -> node ID; SERVICE -> BLAKE2b-256("vx6 service" ||
 * "user.service"); USERNAME -> BLAKE2b-256("vx6 user" || "user");
 * HSDESC -> BLAKE2b-256("vx6 hsdir" || blinded key || u64 period || u8 replica)
 * with the period read from the descriptor.
 */
#ifndef VX6_WIRE_RECORD_H
#define VX6_WIRE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

#define VX_RECORD_VERSION       1
#define VX_RECORD_MAX           1200 /* bytes, encoded, signature included */
#define VX_RECORD_MAX_ENDPOINTS 8
#define VX_RECORD_MAX_PORTS     64
#define VX_RECORD_MAX_HSDESC    1024 /* descriptor bytes in an HSDESC record */
#define VX_HSDESC_REPLICAS      3
#define VX_LABEL_MAX            63
#define VX_DHT_KEY_LEN          32
#define VX_RECORD_MAX_SKEW      300             /* issued-at may be this far ahead */
#define VX_RECORD_MAX_LIFETIME  (7 * 24 * 3600) /* expires - issued */

#define VX_REC_TRANSPORT_TCP  1 /* endpoint transports bitmask */
#define VX_REC_TRANSPORT_QUIC 2

/* SERVICE flags.  Unknown bits are kept and ignored (later versions). */
#define VX_SERVICE_F_ANYPORT    1u /* any port is accepted (ports list is empty) */
#define VX_SERVICE_F_RELAY      2u /* the owner takes it through relay circuits only */
#define VX_SERVICE_F_DIRECT     4u /* the owner takes direct streams only (no circuits) */
#define VX_SERVICE_F_ROUTE_MASK (VX_SERVICE_F_RELAY | VX_SERVICE_F_DIRECT) /* never both */

enum vx_record_type {
    VX_REC_NODE = 1,
    VX_REC_SERVICE = 2,
    VX_REC_USERNAME = 3,
    VX_REC_HSDESC = 4,
};

struct vx_endpoint {
    uint8_t family;     /* 4 or 6 */
    uint8_t transports; /* VX_REC_TRANSPORT_* bits */
    uint16_t port;
    uint8_t addr[16]; /* IPv4: the first 4 bytes */
};

struct vx_record {
    uint8_t type; /* enum vx_record_type */
    uint64_t seq;
    uint64_t issued;
    uint64_t expires;
    uint8_t signer[VX_PK_LEN];
    uint8_t sig[VX_SIG_LEN];
    union {
        struct {
            uint8_t node_id[VX_NODE_ID_LEN];
            uint8_t n_endpoints;
            struct vx_endpoint endpoints[VX_RECORD_MAX_ENDPOINTS];
        } node;
        struct {
            char user[VX_LABEL_MAX + 1];
            char service[VX_LABEL_MAX + 1];
            uint8_t node_id[VX_NODE_ID_LEN];
            uint32_t flags;
            uint8_t n_ports;
            uint16_t ports[VX_RECORD_MAX_PORTS];
        } service;
        struct {
            char user[VX_LABEL_MAX + 1];
        } username;
        struct {
            uint8_t replica; /* 0 .. VX_HSDESC_REPLICAS - 1 */
            uint16_t len;
            uint8_t desc[VX_RECORD_MAX_HSDESC];
        } hsdesc;
    } u;
};

/* Builders: zero *r and fill the common fields.  Labels are validated
 * (VX_ERR_TOOBIG if longer than 63, VX_ERR_BADADDR if not a label). */
void vx_record_init_node(struct vx_record *r, uint64_t seq, uint64_t issued, uint64_t expires);
int vx_record_init_service(struct vx_record *r, const char *user, const char *service, uint64_t seq,
                           uint64_t issued, uint64_t expires);
int vx_record_init_username(struct vx_record *r, const char *user, uint64_t seq, uint64_t issued,
                            uint64_t expires);
/* HSDESC record for an encoded descriptor at one replica position: seq,
 * expires and signer are taken from the descriptor's outer header.
 * VX_ERR_TOOBIG (longer than VX_RECORD_MAX_HSDESC), VX_ERR_INVAL (not a
 * descriptor header, bad replica). */
int vx_record_init_hsdesc(struct vx_record *r, unsigned replica, const uint8_t *desc, size_t len,
                          uint64_t issued);
/* DHT key of a descriptor position. */
void vx_hsdesc_key(const uint8_t blinded_pk[VX_PK_LEN], uint64_t period, unsigned replica,
                   uint8_t key[VX_DHT_KEY_LEN]);

/* Add an endpoint to a NODE record: 0, VX_ERR_TOOBIG (already 8) or
 * VX_ERR_INVAL (bad family, port 0, bad transports). */
int vx_record_add_endpoint(struct vx_record *r, const struct vx_endpoint *ep);

/* Sign with id: sets signer (and, for NODE and SERVICE, the node ID) and
 * the signature.  0, VX_ERR_INVAL (malformed fields) or VX_ERR_CRYPTO. */
int vx_record_sign(struct vx_record *r, const struct vx_identity *id);

/* Sign an HSDESC record with the blinded key the descriptor names.
 * 0, VX_ERR_INVAL (the key is not the descriptor's, or malformed fields). */
struct vx_blind_key;
int vx_record_sign_blinded(struct vx_record *r, const struct vx_blind_key *k);

/* Canonical encoding, signature included, into out.  Returns the length
 * (> 0), VX_ERR_TOOBIG if cap is too small, VX_ERR_INVAL if a field is out
 * of range. */
int vx_record_encode(const struct vx_record *r, uint8_t *out, size_t cap);

/* Strict decode (syntax only: no signature or time check).  0,
 * VX_ERR_TOOBIG (input > VX_RECORD_MAX or a count/label over its maximum),
 * VX_ERR_TRUNC, VX_ERR_VERSION or VX_ERR_INVAL. */
int vx_record_decode(struct vx_record *r, const uint8_t *in, size_t len);

/* Check a record as received: key/ID consistency, signature, times.
 * 0, VX_ERR_PEER_ID (node ID does not match the signer key), VX_ERR_BADSIG,
 * VX_ERR_EXPIRED (expires <= now), VX_ERR_INVAL (issued more than 5 min
 * ahead of now, expires before issued, lifetime over 7 days, bad fields). */
int vx_record_verify(const struct vx_record *r, uint64_t now);

/* decode + verify. */
int vx_record_parse(struct vx_record *r, const uint8_t *in, size_t len, uint64_t now);

/* The record's DHT key. */
void vx_record_key(const struct vx_record *r, uint8_t key[VX_DHT_KEY_LEN]);
int vx_service_key(const char *user, const char *service, uint8_t key[VX_DHT_KEY_LEN]);
int vx_username_key(const char *user, uint8_t key[VX_DHT_KEY_LEN]);

/* May `rec` replace `old` (same DHT key) in a store?  0 if yes;
 * VX_ERR_STALE if its sequence is not higher; VX_ERR_KEYCHANGED if it is
 * signed by another key while `old` has not expired at `now`; VX_ERR_INVAL
 * if the two records are not for the same key. */
int vx_record_replaces(const struct vx_record *rec, const struct vx_record *old, uint64_t now);

/* Is s a valid label (1..63 of [a-z0-9-], no '-' at either end)?
 * 0, VX_ERR_TOOBIG or VX_ERR_BADADDR. */
int vx_label_check(const char *s);

const char *vx_record_type_name(int type);

#endif
