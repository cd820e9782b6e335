/* cell.h — relay circuit cells: pure encode/decode, no I/O.
 *
 * A circuit hop is one VX_TARGET_RELAY stream between two nodes; the stream
 * carries a sequence of link cells:
 *
 *     u8 cmd | u16 len | body[len]                       (big-endian)
 *
 *     CREATE   (1)  u8 version(1) | u8 aead | X[32]       client ephemeral key
 *     CREATED  (2)  Y[32] | AUTH[32]                      relay ephemeral, proof
 *     RELAY    (3)  onion blob: a relay payload sealed once per hop
 *     DESTROY  (4)  u8 reason
 *
 * The innermost plaintext of a RELAY blob is a relay payload padded with
 * zeros to one of the bucket sizes (VX_CELL_BUCKETS), so its length says
 * little about the data:
 *
 *     u8 rcmd | u16 len | data[len] | zeros
 *
 *     EXTEND        node_id[32] | u8 family(4|6) | addr[4|16] | u16 port | CREATE body
 *     EXTENDED      CREATED body
 *     EXTEND_FAILED u8 reason
 *     BEGIN         u16 port | u8 namelen | name | u8 flags | [pk[32] | sig[64]]
 *     CONNECTED     (empty)
 *     BEGIN_FAILED  u8 reason
 *     DATA          bytes
 *     END           (empty; no more data in this direction)
 *
 * Hidden-service commands (man vx6-protocol(7), HIDDEN SERVICES), all sent
 * to or by the last hop of a circuit that has no BEGIN:
 *
 *     ESTABLISH_INTRO   auth_key[32] | sig[64]       service -> intro point;
 *                       sig by auth_key over VX_CELL_ESTINTRO_CTX |
 *                       binding (the hop's handshake binding) | auth_key
 *     INTRO_ESTABLISHED (empty)                      intro point -> service
 *     INTRODUCE1        INTRODUCE message            client -> intro point
 *     INTRODUCE2        the same bytes               intro point -> service
 *     INTRODUCE_ACK     u8 status (VX_CELL_ACK_*)    intro point -> client
 *     ESTABLISH_REND    cookie[20]                   client -> rendezvous point
 *     REND_ESTABLISHED  (empty)                      rendezvous point -> client
 *     RENDEZVOUS1       cookie[20] | Y[32] | AUTH[32] service -> rendezvous point
 *     RENDEZVOUS2       Y[32] | AUTH[32]             rendezvous point -> client
 *
 * After RENDEZVOUS2 the rendezvous point joins the two circuits: it opens
 * its own layer of a cell from one side and seals the rest, unread, with
 * its backward layer of the other side.  Client and service add one more
 * layer of their own (end to end), inside which BEGIN / CONNECTED /
 * BEGIN_FAILED / DATA / END run as on a circuit to a named service.
 *
 * Every decoder checks bounds and exact lengths and returns VX_ERR_TRUNC when
 * more bytes are needed (cell framing only), VX_ERR_PROTO/VX_ERR_INVAL for
 * malformed input.
 */
#ifndef VX6_WIRE_CELL_H
#define VX6_WIRE_CELL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define VX_CELL_HDR_LEN     3
#define VX_CELL_VERSION     1
#define VX_CELL_KEY_LEN     32
#define VX_CELL_AUTH_LEN    32
#define VX_CELL_ID_LEN      32
#define VX_CELL_TAG_LEN     16 /* one AEAD layer */
#define VX_CELL_MAX_HOPS    8
#define VX_CELL_PAYLOAD_MAX 16384 /* largest bucket */
#define VX_CELL_PAYLOAD_HDR 3
#define VX_CELL_DATA_MAX    (VX_CELL_PAYLOAD_MAX - VX_CELL_PAYLOAD_HDR)
#define VX_CELL_BODY_MAX    (VX_CELL_PAYLOAD_MAX + VX_CELL_MAX_HOPS * VX_CELL_TAG_LEN)
#define VX_CELL_CREATE_LEN  (2 + VX_CELL_KEY_LEN)
#define VX_CELL_CREATED_LEN (VX_CELL_KEY_LEN + VX_CELL_AUTH_LEN)
#define VX_CELL_NAME_MAX    63
#define VX_CELL_BEGIN_AUTH  0x01 /* BEGIN flag: client key and signature follow */

enum vx_cell_cmd {
    VX_CELL_CREATE = 1,
    VX_CELL_CREATED = 2,
    VX_CELL_RELAY = 3,
    VX_CELL_DESTROY = 4,
};

enum vx_relay_cmd {
    VX_RC_EXTEND = 1,
    VX_RC_EXTENDED = 2,
    VX_RC_EXTEND_FAILED = 3,
    VX_RC_BEGIN = 4,
    VX_RC_CONNECTED = 5,
    VX_RC_BEGIN_FAILED = 6,
    VX_RC_DATA = 7,
    VX_RC_END = 8,
    VX_RC_ESTABLISH_INTRO = 9,
    VX_RC_INTRO_ESTABLISHED = 10,
    VX_RC_INTRODUCE1 = 11,
    VX_RC_INTRODUCE2 = 12,
    VX_RC_INTRODUCE_ACK = 13,
    VX_RC_ESTABLISH_REND = 14,
    VX_RC_REND_ESTABLISHED = 15,
    VX_RC_RENDEZVOUS1 = 16,
    VX_RC_RENDEZVOUS2 = 17,
};
#define VX_RC_MAX VX_RC_RENDEZVOUS2

/* INTRODUCE_ACK status */
enum vx_cell_ack {
    VX_CELL_ACK_OK = 0,      /* passed to the service */
    VX_CELL_ACK_UNKNOWN = 1, /* no service circuit for that auth key here */
    VX_CELL_ACK_INVALID = 2, /* malformed INTRODUCE1 */
};

#define VX_CELL_COOKIE_LEN   20
#define VX_CELL_ESTINTRO_LEN (32 + 64)
#define VX_CELL_ESTINTRO_CTX "vx6 establish intro v1"
#define VX_CELL_ESTINTRO_MSG (sizeof(VX_CELL_ESTINTRO_CTX) - 1 + 32 + 32)

/* DESTROY / EXTEND_FAILED / BEGIN_FAILED reasons. */
enum vx_cell_reason {
    VX_CR_NONE = 0,
    VX_CR_PROTOCOL = 1, /* malformed or unexpected cell */
    VX_CR_INTERNAL = 2,
    VX_CR_REQUESTED = 3, /* the client closed the circuit */
    VX_CR_RESOURCE = 4,  /* relay governor: too many circuits or no bandwidth */
    VX_CR_CONNECT = 5,   /* the next hop could not be reached */
    VX_CR_DISABLED = 6,  /* relaying is turned off on this node */
    VX_CR_TIMEOUT = 7,
    VX_CR_HOP_GONE = 8,  /* a neighbouring hop's stream or session went away */
    VX_CR_CRYPTO = 9,    /* a layer failed authentication */
    VX_CR_NOTFOUND = 10, /* no such service or port */
    VX_CR_DENIED = 11,   /* the service's allow list refused the client */
    VX_CR_REFUSED = 12,  /* the local target refused the connection */
    VX_CR_LOOP = 13,     /* EXTEND to the relay itself or back to the previous hop */
    VX_CR_ROUTE = 14,    /* the service takes direct streams only (route: direct) */
};

/* The payload sizes a relay payload is padded to. */
#define VX_CELL_NBUCKETS 4
extern const uint16_t VX_CELL_BUCKETS[VX_CELL_NBUCKETS];

struct vx_cell {
    uint8_t cmd;
    uint16_t len;
    const uint8_t *body; /* points into the decoded buffer */
};

/* Link framing.  decode: 0 and *used, VX_ERR_TRUNC, or VX_ERR_PROTO (unknown
 * command, body over VX_CELL_BODY_MAX). */
int vx_cell_decode(const uint8_t *in, size_t n, struct vx_cell *c, size_t *used);
int vx_cell_hdr_encode(uint8_t out[VX_CELL_HDR_LEN], uint8_t cmd, size_t len);

struct vx_cell_create {
    uint8_t version;
    uint8_t aead; /* enum vx_aead of the hop's layers */
    uint8_t x[VX_CELL_KEY_LEN];
};
struct vx_cell_created {
    uint8_t y[VX_CELL_KEY_LEN];
    uint8_t auth[VX_CELL_AUTH_LEN];
};
int vx_cell_create_encode(const struct vx_cell_create *c, uint8_t out[VX_CELL_CREATE_LEN]);
int vx_cell_create_decode(const uint8_t *in, size_t n, struct vx_cell_create *c);
int vx_cell_created_encode(const struct vx_cell_created *c, uint8_t out[VX_CELL_CREATED_LEN]);
int vx_cell_created_decode(const uint8_t *in, size_t n, struct vx_cell_created *c);

/* Relay payloads.  The bucket is the smallest that holds 3 + len bytes.
 * encode: 0 and *outlen (the bucket size), VX_ERR_TOOBIG.  decode: the size
 * must be a bucket, len must fit, padding must be zero; data points into in. */
size_t vx_cell_bucket_for(size_t datalen);
int vx_relay_payload_encode(uint8_t rcmd, const uint8_t *data, size_t len, uint8_t *out, size_t cap,
                            size_t *outlen);
int vx_relay_payload_decode(const uint8_t *in, size_t n, uint8_t *rcmd, const uint8_t **data,
                            size_t *len);

struct vx_cell_extend {
    uint8_t node_id[VX_CELL_ID_LEN];
    struct sockaddr_storage addr; /* AF_INET or AF_INET6 with port */
    socklen_t addrlen;
    struct vx_cell_create create;
};
#define VX_CELL_EXTEND_MAX (VX_CELL_ID_LEN + 1 + 16 + 2 + VX_CELL_CREATE_LEN)
int vx_cell_extend_encode(const struct vx_cell_extend *e, uint8_t *out, size_t cap, size_t *outlen);
int vx_cell_extend_decode(const uint8_t *in, size_t n, struct vx_cell_extend *e);

struct vx_cell_begin {
    uint16_t port;
    char name[VX_CELL_NAME_MAX + 1];
    uint8_t flags;
    uint8_t pk[32];  /* VX_CELL_BEGIN_AUTH: client's Ed25519 key */
    uint8_t sig[64]; /* ...and its signature (see circuit.c) */
};
#define VX_CELL_BEGIN_MAX (2 + 1 + VX_CELL_NAME_MAX + 1 + 32 + 64)
int vx_cell_begin_encode(const struct vx_cell_begin *b, uint8_t *out, size_t cap, size_t *outlen);
int vx_cell_begin_decode(const uint8_t *in, size_t n, struct vx_cell_begin *b);

/* ESTABLISH_INTRO: the message the auth key signs, and the cell body. */
struct vx_cell_estintro {
    uint8_t auth_key[32];
    uint8_t sig[64];
};
void vx_cell_estintro_msg(const uint8_t binding[32], const uint8_t auth_key[32],
                          uint8_t out[VX_CELL_ESTINTRO_MSG]);
int vx_cell_estintro_encode(const struct vx_cell_estintro *e, uint8_t out[VX_CELL_ESTINTRO_LEN]);
/* 0 or VX_ERR_PROTO (length).  The signature is checked by the caller. */
int vx_cell_estintro_decode(const uint8_t *in, size_t n, struct vx_cell_estintro *e);
/* INTRODUCE_ACK status: 0 and *status, or VX_ERR_PROTO (length, unknown). */
int vx_cell_ack_decode(const uint8_t *in, size_t n, uint8_t *status);

const char *vx_cell_reason_str(uint8_t reason);
/* Map between reasons and VX_ERR_* codes. */
int vx_cell_reason_to_err(uint8_t reason);
uint8_t vx_cell_reason_from_err(int err);

#endif
