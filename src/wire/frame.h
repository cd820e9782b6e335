/* frame.h — the VX6 TCP session messages: pure encode/decode, no I/O.
 *
 * On a TCP session the bytes are, in order (all integers big-endian):
 *
 *   handshake, first message (initiator):
 *       u8 version (VX_WIRE_VERSION) | u8 pattern (1 XX, 2 IK) | u16 len | len bytes Noise
 *   every later handshake message (either side):
 *       u16 len | len bytes Noise                                (1 <= len <= 65535)
 *   then records, each:
 *       u32 len | len bytes: AEAD(plaintext) || 16-byte tag
 *   where the 4 header bytes are the AEAD associated data and
 *   1 <= plaintext <= VX_REC_MAX_PLAIN.
 *
 * The Noise payloads of the initiator's first and the responder's first
 * handshake message carry a HELLO (cipher offer / choice and receive limits).
 * A record's plaintext is one or more frames, each a u8 type then a body:
 *
 *   STREAM_OPEN   1  u32 sid | u8 kind | u16 port | u8 nlen | name | u16 dlen | data
 *   OPEN_OK       2  u32 sid
 *   OPEN_FAIL     3  u32 sid | u16 reason
 *   DATA          4  u32 sid | u16 len | len bytes         (len >= 1)
 *   FIN           5  u32 sid
 *   RESET         6  u32 sid | u16 reason
 *   WINDOW_UPDATE 7  u32 sid (0: the session) | u32 increment (>= 1)
 *   PING          8  8 opaque bytes
 *   PONG          9  8 opaque bytes (echoed)
 *   GOAWAY       10  u32 last peer-opened sid processed | u16 reason
 *   REKEY        11  (empty; must end its record)
 *
 * Stream IDs are non-zero; the session initiator opens odd IDs, the
 * responder even ones.  Reasons are stable wire codes, see
 * vx_wire_reason_from_err().  See vx6-protocol(7) FRAMING and STREAMS.
 */
#ifndef VX6_WIRE_FRAME_H
#define VX6_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define VX_WIRE_VERSION     1
#define VX_HS_FIRST_HDR_LEN 4
#define VX_HS_HDR_LEN       2
#define VX_HS_MAX_MSG       65535

#define VX_REC_HDR_LEN   4
#define VX_REC_TAG_LEN   16
#define VX_REC_MAX_PLAIN 65536
#define VX_REC_MAX_WIRE  (VX_REC_HDR_LEN + VX_REC_MAX_PLAIN + VX_REC_TAG_LEN)

#define VX_FRAME_DATA_HDR_LEN 7 /* type | sid | len */
#define VX_FRAME_DATA_MAX     (VX_REC_MAX_PLAIN - VX_FRAME_DATA_HDR_LEN)
#define VX_FRAME_MAX_CTRL     (1 + 4 + 1 + 2 + 1 + 63 + 2 + 256) /* largest non-DATA frame */

#define VX_WIRE_NAME_MAX  63
#define VX_WIRE_TDATA_MAX 256
#define VX_WIRE_MAX_AEAD  4

enum vx_hs_pattern_code {
    VX_HS_XX = 1,
    VX_HS_IK = 2,
};

enum vx_frame_type {
    VX_FR_STREAM_OPEN = 1,
    VX_FR_OPEN_OK = 2,
    VX_FR_OPEN_FAIL = 3,
    VX_FR_DATA = 4,
    VX_FR_FIN = 5,
    VX_FR_RESET = 6,
    VX_FR_WINDOW_UPDATE = 7,
    VX_FR_PING = 8,
    VX_FR_PONG = 9,
    VX_FR_GOAWAY = 10,
    VX_FR_REKEY = 11,
};

/* Stable reason codes on the wire (OPEN_FAIL, RESET, GOAWAY). */
enum vx_wire_reason {
    VX_RSN_NONE = 0,
    VX_RSN_INTERNAL = 1,
    VX_RSN_REFUSED = 2,
    VX_RSN_NOTFOUND = 3,
    VX_RSN_DENIED = 4,
    VX_RSN_TIMEOUT = 5,
    VX_RSN_UNREACH = 6,
    VX_RSN_LIMIT = 7,
    VX_RSN_PROTO = 8,
    VX_RSN_CLOSED = 9,
    VX_RSN_RESET = 10,
    VX_RSN_AUTH = 11,
    VX_RSN_BADADDR = 12,
    VX_RSN_PEER_ID = 13,
    VX_RSN_INVAL = 14,
    VX_RSN_ROUTE = 15, /* the service's route policy: relay circuits only */
};

/* What a STREAM_OPEN asks for (mirrors struct vx_stream_target). */
struct vx_wire_target {
    uint8_t kind; /* 1..3 */
    uint16_t port;
    char name[VX_WIRE_NAME_MAX + 1]; /* NUL-terminated, no embedded NUL */
    uint16_t data_len;
    uint8_t data[VX_WIRE_TDATA_MAX];
};

struct vx_frame {
    uint8_t type;                 /* enum vx_frame_type */
    uint32_t sid;                 /* OPEN*, DATA, FIN, RESET, WINDOW_UPDATE; GOAWAY: last sid */
    uint16_t reason;              /* OPEN_FAIL, RESET, GOAWAY: enum vx_wire_reason (any value) */
    uint32_t incr;                /* WINDOW_UPDATE */
    uint8_t opaque[8];            /* PING, PONG */
    const uint8_t *data;          /* DATA: points into the decoded buffer */
    uint16_t data_len;            /* DATA */
    struct vx_wire_target target; /* STREAM_OPEN */
};

/* Cipher offer (initiator) or choice (responder, n_aead == 1) and the
 * sender's receive limits.  Encoding: u8 version | u8 n_aead | n_aead x u8 |
 * u32 stream_window | u32 session_window | u32 max_streams. */
struct vx_wire_hello {
    uint8_t n_aead;
    uint8_t aead[VX_WIRE_MAX_AEAD]; /* enum vx_aead values, preference order */
    uint32_t stream_window;
    uint32_t session_window;
    uint32_t max_streams;
};
#define VX_HELLO_MAX_LEN (2 + VX_WIRE_MAX_AEAD + 12)

/* Handshake message headers.  Encoders: 0 or VX_ERR_TOOBIG (len 0 or > 65535).
 * Decoders: 0, VX_ERR_TRUNC (need more bytes), VX_ERR_VERSION (unknown
 * version), VX_ERR_PROTO (unknown pattern, len 0). */
int vx_wire_hs_first_encode(uint8_t out[VX_HS_FIRST_HDR_LEN], uint8_t pattern, size_t len);
int vx_wire_hs_first_decode(const uint8_t *in, size_t n, uint8_t *pattern, size_t *len);
int vx_wire_hs_encode(uint8_t out[VX_HS_HDR_LEN], size_t len);
int vx_wire_hs_decode(const uint8_t *in, size_t n, size_t *len);

/* HELLO payload.  encode: 0 or VX_ERR_TOOBIG / VX_ERR_INVAL (n_aead 0 or too
 * many).  decode: 0, VX_ERR_TRUNC, VX_ERR_PROTO (n_aead 0 or too many, trailing
 * bytes). */
int vx_wire_hello_encode(const struct vx_wire_hello *h, uint8_t *out, size_t cap, size_t *outlen);
int vx_wire_hello_decode(const uint8_t *in, size_t n, struct vx_wire_hello *h);

/* Record header.  encode: 0 or VX_ERR_TOOBIG (plain_len 0 or too big).
 * decode: *ct_len = bytes after the header (ciphertext + tag); 0,
 * VX_ERR_TRUNC, VX_ERR_TOOBIG (over the maximum), VX_ERR_PROTO (too short). */
int vx_wire_rec_hdr_encode(uint8_t out[VX_REC_HDR_LEN], size_t plain_len);
int vx_wire_rec_hdr_decode(const uint8_t *in, size_t n, size_t *ct_len);

/* Encode one frame.  0, VX_ERR_TOOBIG (no room / fields too long),
 * VX_ERR_INVAL (unknown type, zero sid or increment, bad target). */
int vx_frame_encode(const struct vx_frame *f, uint8_t *out, size_t cap, size_t *outlen);
/* Decode the frame at the start of in[0..n).  *used = its size.  0,
 * VX_ERR_TRUNC (frame runs past n: within a record that is malformed),
 * VX_ERR_PROTO (unknown type, zero sid/increment/len, bad target). */
int vx_frame_decode(const uint8_t *in, size_t n, struct vx_frame *f, size_t *used);
/* Write just a DATA frame header (the payload follows it in place). */
void vx_frame_data_hdr(uint8_t out[VX_FRAME_DATA_HDR_LEN], uint32_t sid, uint16_t len);

/* VX_ERR_* -> stable wire reason, and back.  Unknown codes map to
 * VX_RSN_INTERNAL / VX_ERR_RESET. */
uint16_t vx_wire_reason_from_err(int err);
int vx_wire_reason_to_err(uint16_t reason);
const char *vx_frame_type_name(uint8_t type);

#endif
