/* dhtmsg.h — DHT datagram encoding (pure, no I/O).
 *
 * Every message is one UDP datagram of at most VX_DHTMSG_MAX bytes:
 *
 *     u8 version (1)   u8 type   [8] transaction ID   [32] sender node ID
 *     body by type:
 *       PING, PONG     u16 len, len bytes: the sender's NODE record (len may be 0)
 *       FIND_NODE      [32] target
 *       FIND_VALUE     [32] key
 *       NODES          [16] token, u8 n (<= 20), n x contact
 *       VALUE          [16] token, u16 len (1..1200), record
 *       STORE          [16] token, u16 len (1..1200), record
 *       STORED         u8 status (0 = stored, else the VX_ERR_* code negated)
 *     contact = [32] node ID, u8 family (4|6), [4|16] address, u16 port (!= 0)
 *
 * The first byte has its two top bits clear, so when both share a UDP port
 * a DHT datagram is not taken for a QUIC packet (whose first byte has 0x40
 * set, or, greased per RFC 9287, a connection ID of ours).  Responses (PONG, NODES, VALUE, STORED) echo the
 * transaction ID of their request.  Decoding is strict: unknown versions or
 * types, trailing bytes and out-of-range counts are errors.
 */
#ifndef VX6_DHT_DHTMSG_H
#define VX6_DHT_DHTMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/identity.h"
#include "wire/record.h"

#define VX_DHTMSG_VERSION   1
#define VX_DHTMSG_MAX       1452 /* 1500-byte MTU minus IPv6 and UDP headers */
#define VX_DHTMSG_HDR_LEN   42
#define VX_DHT_TXID_LEN     8
#define VX_DHT_TOKEN_LEN    16
#define VX_DHT_MAX_CONTACTS 20

enum vx_dhtmsg_type {
    VX_DHT_PING = 1,
    VX_DHT_PONG = 2,
    VX_DHT_FIND_NODE = 3,
    VX_DHT_NODES = 4,
    VX_DHT_FIND_VALUE = 5,
    VX_DHT_VALUE = 6,
    VX_DHT_STORE = 7,
    VX_DHT_STORED = 8,
};

/* A transport address.  IPv4 (family 4) uses the first 4 bytes of ip. */
struct vx_dhtaddr {
    uint8_t family; /* 4 or 6 */
    uint8_t ip[16];
    uint16_t port;
};

struct vx_dht_contact {
    uint8_t id[VX_NODE_ID_LEN];
    struct vx_dhtaddr addr;
};

struct vx_dhtmsg {
    uint8_t type;
    uint8_t txid[VX_DHT_TXID_LEN];
    uint8_t sender[VX_NODE_ID_LEN];
    uint8_t target[VX_NODE_ID_LEN];  /* FIND_NODE, FIND_VALUE */
    uint8_t token[VX_DHT_TOKEN_LEN]; /* NODES, VALUE, STORE */
    uint8_t n_contacts;              /* NODES */
    struct vx_dht_contact contacts[VX_DHT_MAX_CONTACTS];
    const uint8_t *rec; /* PING, PONG, VALUE, STORE: encoded record (points into */
    uint16_t rec_len;   /* the decoded datagram, or the caller's buffer to encode) */
    uint8_t status;     /* STORED */
};

/* Is this datagram plausibly ours (version byte)?  For port sharing. */
int vx_dhtmsg_is_dht(const uint8_t *data, size_t len);

/* Encode m into out.  Returns the length, VX_ERR_TOOBIG or VX_ERR_INVAL. */
int vx_dhtmsg_encode(const struct vx_dhtmsg *m, uint8_t *out, size_t cap);

/* Decode a datagram.  m->rec points into data.  0, VX_ERR_TRUNC,
 * VX_ERR_TOOBIG, VX_ERR_VERSION or VX_ERR_INVAL. */
int vx_dhtmsg_decode(struct vx_dhtmsg *m, const uint8_t *data, size_t len);

const char *vx_dhtmsg_type_name(int type);
int vx_dhtmsg_is_response(int type);

/* Address helpers. */
int vx_dhtaddr_equal(const struct vx_dhtaddr *a, const struct vx_dhtaddr *b);
/* Diversity prefix: /24 for IPv4, /48 for IPv6.  Same prefix -> 1. */
int vx_dhtaddr_same_prefix(const struct vx_dhtaddr *a, const struct vx_dhtaddr *b);
int vx_dhtaddr_is_loopback(const struct vx_dhtaddr *a);
/* "[2001:db8::1]:4242" or "192.0.2.1:4242" into out. */
void vx_dhtaddr_format(const struct vx_dhtaddr *a, char *out, size_t cap);
/* Address conversions (lib/addr: IPv4-mapped IPv6 becomes IPv4; an IPv4
 * address for a dual-stack v6_socket becomes ::ffff:a.b.c.d).
 * from: 0 or VX_ERR_BADADDR. */
int vx_dhtaddr_from_sockaddr(struct vx_dhtaddr *a, const struct sockaddr *sa, socklen_t len);
void vx_dhtaddr_to_sockaddr(const struct vx_dhtaddr *a, int v6_socket, struct sockaddr_storage *ss,
                            socklen_t *len);

#endif
