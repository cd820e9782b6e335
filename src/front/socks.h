/* socks.h — server side of SOCKS4, SOCKS4a and SOCKS5 (pure, no I/O).
 *
 * An incremental parser: feed it whatever bytes arrived (one at a time is
 * fine) and it says what to write back and when a CONNECT request is
 * complete.  The state lives in struct vx_socks, meant to be embedded in a
 * connection struct: no allocation, vx_socks_init() / vx_socks_feed() /
 * vx_socks_reset().  Its fields are private; use the functions below and
 * the public struct vx_socks_request.
 *
 * SOCKS5 (RFC 1928): method 0x00 (no auth) or 0x02 (username/password,
 * RFC 1929).  When vx_socks_opts.username is set only 0x02 is acceptable
 * and the credentials must match; otherwise 0x00 is preferred and a client
 * offering only 0x02 may send any credentials (they are reported, for
 * stream isolation).  Only CONNECT is supported: BIND and UDP ASSOCIATE are
 * answered 0x07, an unknown ATYP 0x08.  SOCKS4/4a: CONNECT with userid and,
 * for 4a (DSTIP 0.0.0.x, x != 0), a host name.
 */
#ifndef VX6_FRONT_SOCKS_H
#define VX6_FRONT_SOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define VX_SOCKS_MAX_HOST 255 /* a DOMAIN or SOCKS4a host, without the NUL */
#define VX_SOCKS_MAX_USER 255 /* RFC 1929 UNAME, or the SOCKS4 userid */
#define VX_SOCKS_MAX_PASS 255
/* The longest reply vx_socks_reply() produces (SOCKS5, IPv6 bound address). */
#define VX_SOCKS_REPLY_MAX 22
#define VX_SOCKS_OUT_MAX   32

enum vx_socks_atyp {
    VX_SOCKS_ATYP_IPV4 = 0x01,
    VX_SOCKS_ATYP_DOMAIN = 0x03,
    VX_SOCKS_ATYP_IPV6 = 0x04,
};

/* Options; the strings must outlive every parser initialised with them. */
struct vx_socks_opts {
    const char *username; /* non-NULL: require RFC 1929 with these credentials */
    const char *password;
    int no_socks4; /* refuse SOCKS4 and SOCKS4a */
};

/* A complete CONNECT request. */
struct vx_socks_request {
    int version;             /* 4 or 5 */
    enum vx_socks_atyp atyp; /* DOMAIN for SOCKS4a */
    /* DOMAIN: the name as sent (NUL-terminated, never contains NUL).
     * IPV4/IPV6: the address in text form ("192.0.2.1", "2001:db8::1"). */
    char host[VX_SOCKS_MAX_HOST + 1];
    struct sockaddr_storage addr;         /* IPV4/IPV6: the address with port; else AF_UNSPEC */
    uint16_t port;                        /* host byte order; may be 0 (the caller decides) */
    int has_auth;                         /* SOCKS5: RFC 1929 was done; SOCKS4: userid non-empty */
    char username[VX_SOCKS_MAX_USER + 1]; /* SOCKS4: the userid */
    char password[VX_SOCKS_MAX_PASS + 1];
};

/* Results of vx_socks_feed() besides negative errors. */
enum vx_socks_result {
    VX_SOCKS_MORE = 0,    /* all input consumed; more is needed */
    VX_SOCKS_REQUEST = 1, /* the request is complete; see vx_socks_request() */
};

struct vx_socks {
    /* private */
    const struct vx_socks_opts *opts;
    int state;
    int err;
    uint16_t need;  /* bytes still expected for the current field */
    uint16_t got;   /* bytes of the current field so far */
    uint8_t method; /* chosen SOCKS5 method */
    uint8_t tmp[16];
    uint8_t out[VX_SOCKS_OUT_MAX];
    size_t outlen;
    struct vx_socks_request req;
};

/* Start a parser; opts may be NULL (no auth required, SOCKS4 allowed). */
void vx_socks_init(struct vx_socks *s, const struct vx_socks_opts *opts);
/* Forget everything and start again with the same options. */
void vx_socks_reset(struct vx_socks *s);

/* Feed len bytes.  *consumed is set to how many were used: after
 * VX_SOCKS_REQUEST the rest (buf + *consumed) is early client data for the
 * tunnel.  Returns VX_SOCKS_MORE, VX_SOCKS_REQUEST or, when the client must
 * be dropped (after writing any pending output):
 *   VX_ERR_PROTO   not SOCKS4/5, bad version in a later message, bad RSV,
 *                  zero NMETHODS, unsupported command (reply 0x07 / 0x5B)
 *   VX_ERR_AUTH    no acceptable method (reply 0xFF) or wrong credentials
 *                  (RFC 1929 status 0x01), or SOCKS4 when auth is required
 *   VX_ERR_BADADDR unknown ATYP (reply 0x08), empty or NUL-containing name
 *   VX_ERR_TOOBIG  SOCKS4 userid or SOCKS4a host longer than 255 bytes
 *   VX_ERR_DENIED  SOCKS4 while opts->no_socks4
 *   VX_ERR_INVAL   fed again after a request or an error (same code repeated
 *                  for an error)
 * After each call, send vx_socks_output() to the client. */
int vx_socks_feed(struct vx_socks *s, const uint8_t *buf, size_t len, size_t *consumed);

/* Bytes the parser wants written to the client (method choice, RFC 1929
 * status, error replies), in order.  Call vx_socks_output_clear() once they
 * are queued for writing. */
const uint8_t *vx_socks_output(const struct vx_socks *s, size_t *len);
void vx_socks_output_clear(struct vx_socks *s);

/* After VX_SOCKS_REQUEST: the request; NULL before. */
const struct vx_socks_request *vx_socks_request(const struct vx_socks *s);

/* The final reply to the request, for a SOCKS5 reply code (0x00 success;
 * see front/errors.h, vx_front_socks5_code() maps VX_ERR_*), in the
 * client's SOCKS version.  bound: BND.ADDR/BND.PORT, NULL for 0.0.0.0:0.
 * Returns the length written to out, or VX_ERR_TOOBIG if cap is too small
 * (VX_SOCKS_REPLY_MAX always fits), VX_ERR_INVAL before a request. */
int vx_socks_reply(const struct vx_socks *s, uint8_t rep, const struct sockaddr *bound,
                   uint8_t *out, size_t cap);

/* Encoders usable without a parser.  SOCKS5: VER REP RSV ATYP BND.ADDR
 * BND.PORT (10 or 22 bytes).  SOCKS4: 0x00 CD DSTPORT DSTIP (8 bytes, CD
 * 0x5A when rep == 0 else 0x5B; an IPv6 bound address is sent as 0.0.0.0).
 * Return the length or VX_ERR_TOOBIG. */
int vx_socks5_encode_reply(uint8_t rep, const struct sockaddr *bound, uint8_t *out, size_t cap);
int vx_socks4_encode_reply(uint8_t rep, const struct sockaddr *bound, uint8_t *out, size_t cap);

#endif
