/* record_cursor.h — a small bounds-checked byte cursor, private to the
 * record and DHT message codecs (src/wire/record.c, src/dht/dhtmsg.c).
 *
 * It exists only until src/wire/cursor.[ch] lands in main; then both codecs
 * switch to that one and this header goes away.  Integers are big-endian.
 * Errors are sticky: after the first failure every call is a no-op and
 * ->err holds the first error (VX_ERR_TOOBIG when writing past the cap,
 * VX_ERR_TRUNC when reading past the end).
 */
#ifndef VX6_WIRE_RECORD_CURSOR_H
#define VX6_WIRE_RECORD_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/err.h"

struct rcur_w {
    uint8_t *p;
    size_t cap;
    size_t len;
    int err;
};

struct rcur_r {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err;
};

static inline void rcw_init(struct rcur_w *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

static inline void rcw_bytes(struct rcur_w *w, const void *d, size_t n)
{
    if (w->err)
        return;
    if (n > w->cap - w->len) {
        w->err = VX_ERR_TOOBIG;
        return;
    }
    if (n)
        memcpy(w->p + w->len, d, n);
    w->len += n;
}

static inline void rcw_u8(struct rcur_w *w, uint8_t v)
{
    rcw_bytes(w, &v, 1);
}

static inline void rcw_u16(struct rcur_w *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    rcw_bytes(w, b, 2);
}

static inline void rcw_u32(struct rcur_w *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    rcw_bytes(w, b, 4);
}

static inline void rcw_u64(struct rcur_w *w, uint64_t v)
{
    rcw_u32(w, (uint32_t)(v >> 32));
    rcw_u32(w, (uint32_t)v);
}

static inline void rcr_init(struct rcur_r *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

static inline size_t rcr_left(const struct rcur_r *r)
{
    return r->err ? 0 : r->len - r->off;
}

/* Pointer to the next n bytes (consumed), or NULL after an error. */
static inline const uint8_t *rcr_take(struct rcur_r *r, size_t n)
{
    const uint8_t *p;
    if (r->err)
        return NULL;
    if (n > r->len - r->off) {
        r->err = VX_ERR_TRUNC;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

static inline void rcr_bytes(struct rcur_r *r, void *out, size_t n)
{
    const uint8_t *p = rcr_take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

static inline uint8_t rcr_u8(struct rcur_r *r)
{
    const uint8_t *p = rcr_take(r, 1);
    return p ? p[0] : 0;
}

static inline uint16_t rcr_u16(struct rcur_r *r)
{
    const uint8_t *p = rcr_take(r, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static inline uint32_t rcr_u32(struct rcur_r *r)
{
    const uint8_t *p = rcr_take(r, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

static inline uint64_t rcr_u64(struct rcur_r *r)
{
    uint64_t hi = rcr_u32(r);
    return (hi << 32) | rcr_u32(r);
}

static inline void rcr_fail(struct rcur_r *r, int err)
{
    if (!r->err)
        r->err = err;
}

#endif
