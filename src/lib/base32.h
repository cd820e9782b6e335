/* base32.h — RFC 4648 base32, lowercase, no padding (as in node IDs and
 * hidden-service addresses).  Decoding is case-insensitive and strict:
 * padding, whitespace and non-canonical trailing bits are rejected. */
#ifndef VX6_LIB_BASE32_H
#define VX6_LIB_BASE32_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes (without the NUL). */
#define VX_BASE32_LEN(n) (((n)*8 + 4) / 5)

/* Encode len bytes into out, NUL-terminated.  Returns the number of chars
 * written (excluding NUL) or VX_ERR_TOOBIG if cap < VX_BASE32_LEN(len) + 1. */
int vx_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decode inlen chars into out.  Returns the number of bytes written,
 * VX_ERR_INVAL on a bad character, bad length or non-zero trailing bits, or
 * VX_ERR_TOOBIG if cap is too small. */
int vx_base32_decode(const char *in, size_t inlen, uint8_t *out, size_t cap);

#endif
