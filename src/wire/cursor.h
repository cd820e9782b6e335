/* cursor.h — bounds-checked big-endian reader and writer over a byte buffer.
 *
 * A cursor never reads or writes outside its buffer.  Every get/put returns 0
 * or a negative VX_ERR_*: VX_ERR_TRUNC when a reader runs past the end of its
 * input, VX_ERR_TOOBIG when a writer runs out of room.  The first error is
 * also kept in the cursor (sticky): after it, every call fails the same way
 * without touching memory, so a decoder may chain calls and check once.
 */
#ifndef VX6_WIRE_CURSOR_H
#define VX6_WIRE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct vx_rcur {
    const uint8_t *buf;
    size_t len;
    size_t off;
    int err;
};

struct vx_wcur {
    uint8_t *buf;
    size_t cap;
    size_t off;
    int err;
};

void vx_rcur_init(struct vx_rcur *c, const uint8_t *buf, size_t len);
/* Bytes left to read (0 after an error). */
size_t vx_rcur_left(const struct vx_rcur *c);
int vx_rcur_u8(struct vx_rcur *c, uint8_t *v);
int vx_rcur_u16(struct vx_rcur *c, uint16_t *v);
int vx_rcur_u32(struct vx_rcur *c, uint32_t *v);
int vx_rcur_u64(struct vx_rcur *c, uint64_t *v);
/* Copy n bytes out. */
int vx_rcur_bytes(struct vx_rcur *c, void *out, size_t n);
/* Point *p at the next n bytes of the input and skip them. */
int vx_rcur_ptr(struct vx_rcur *c, const uint8_t **p, size_t n);
/* Poison the cursor with err (a negative VX_ERR_*) unless it already holds
 * an error, for a decoder that finds the bytes well-framed but invalid.
 * Returns the cursor's error: the first one wins. */
int vx_rcur_fail(struct vx_rcur *c, int err);

void vx_wcur_init(struct vx_wcur *c, uint8_t *buf, size_t cap);
int vx_wcur_u8(struct vx_wcur *c, uint8_t v);
int vx_wcur_u16(struct vx_wcur *c, uint16_t v);
int vx_wcur_u32(struct vx_wcur *c, uint32_t v);
int vx_wcur_u64(struct vx_wcur *c, uint64_t v);
int vx_wcur_bytes(struct vx_wcur *c, const void *p, size_t n);
/* As vx_rcur_fail, for an encoder refusing a value it cannot represent. */
int vx_wcur_fail(struct vx_wcur *c, int err);

/* Raw big-endian helpers for fixed-size headers (caller checked the size). */
static inline void vx_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void vx_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void vx_be64_put(uint8_t *p, uint64_t v)
{
    vx_be32_put(p, (uint32_t)(v >> 32));
    vx_be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t vx_be16_get(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t vx_be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t vx_be64_get(const uint8_t *p)
{
    return ((uint64_t)vx_be32_get(p) << 32) | vx_be32_get(p + 4);
}

#endif
