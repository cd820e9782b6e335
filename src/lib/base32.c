/* base32.c — RFC 4648 base32 without padding. */
#include "lib/base32.h"
#include "lib/err.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int vx_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = VX_BASE32_LEN(len), o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (need + 1 > cap || need > 0x7fffffff)
        return VX_ERR_TOOBIG;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return (int)o;
}

static int b32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int vx_base32_decode(const char *in, size_t inlen, uint8_t *out, size_t cap)
{
    size_t nbytes = inlen * 5 / 8, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    /* Lengths that leave 1, 3 or 6 chars in the last group are never
     * produced by the encoder. */
    switch (inlen % 8) {
    case 1:
    case 3:
    case 6:
        return VX_ERR_INVAL;
    }
    if (nbytes > cap || nbytes > 0x7fffffff)
        return VX_ERR_TOOBIG;
    for (size_t i = 0; i < inlen; i++) {
        int v = b32_value(in[i]);
        if (v < 0)
            return VX_ERR_INVAL;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return VX_ERR_INVAL;
    return (int)o;
}
