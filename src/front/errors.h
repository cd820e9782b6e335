/* errors.h — what a proxy client sees when a request fails.
 *
 * One table maps each VX_ERR_* code to a SOCKS5 reply code (RFC 1928 plus
 * Tor proposal 304's extended codes) and an HTTP status, so SOCKS and HTTP
 * CONNECT clients get the same cause.  SOCKS4 clients only see granted
 * (0x5A) or rejected (0x5B); see vx_socks4_code().  The full table is in
 * errors.c and checked by tests/unit/test_front_errors.c.
 */
#ifndef VX6_FRONT_ERRORS_H
#define VX6_FRONT_ERRORS_H

#include <stddef.h>
#include <stdint.h>

/* SOCKS5 reply codes (RFC 1928 section 6, Tor proposal 304). */
enum vx_socks5_rep {
    VX_SOCKS5_SUCCEEDED = 0x00,
    VX_SOCKS5_GENERAL_FAILURE = 0x01,
    VX_SOCKS5_NOT_ALLOWED = 0x02,
    VX_SOCKS5_NET_UNREACHABLE = 0x03,
    VX_SOCKS5_HOST_UNREACHABLE = 0x04,
    VX_SOCKS5_CONN_REFUSED = 0x05,
    VX_SOCKS5_TTL_EXPIRED = 0x06,
    VX_SOCKS5_CMD_NOT_SUPPORTED = 0x07,
    VX_SOCKS5_ATYP_NOT_SUPPORTED = 0x08,
    VX_SOCKS5_DESC_NOT_FOUND = 0xF0,  /* no record / descriptor for the name */
    VX_SOCKS5_DESC_INVALID = 0xF1,    /* record or descriptor invalid */
    VX_SOCKS5_INTRO_FAILED = 0xF2,    /* all introduction points failed */
    VX_SOCKS5_REND_FAILED = 0xF3,     /* rendezvous failed */
    VX_SOCKS5_MISSING_AUTH = 0xF4,    /* client authorization missing */
    VX_SOCKS5_WRONG_AUTH = 0xF5,      /* client authorization wrong */
    VX_SOCKS5_BAD_ADDRESS = 0xF6,     /* malformed .vx6 address */
    VX_SOCKS5_INTRO_TIMED_OUT = 0xF7, /* introduction timed out */
};

/* SOCKS4 reply codes (CD field). */
#define VX_SOCKS4_GRANTED  0x5A
#define VX_SOCKS4_REJECTED 0x5B

/* SOCKS5 reply code for err (0 -> 0x00).  Unknown codes -> 0x01. */
uint8_t vx_front_socks5_code(int err);
/* SOCKS4 CD for a SOCKS5 reply code: 0x00 -> 0x5A, anything else -> 0x5B. */
uint8_t vx_socks4_code(uint8_t socks5_rep);
/* HTTP status for err: 0 -> 200, else 400, 403, 404, 502 or 504. */
int vx_front_http_status(int err);
/* The standard reason phrase for an HTTP status ("Not Found"); "Error" if unknown. */
const char *vx_http_reason_phrase(int status);

/* The one-line, user-readable reason for err about host, without a newline:
 * "vx6: no record for alice.web.vx6".  host may be NULL.  Writes at most cap
 * bytes including the NUL (truncating); returns the length written. */
size_t vx_front_err_line(int err, const char *host, char *out, size_t cap);

#endif
