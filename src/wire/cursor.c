/* cursor.c — bounds-checked big-endian reader and writer. */
#include "wire/cursor.h"

#include <string.h>

#include "lib/err.h"

void vx_rcur_init(struct vx_rcur *c, const uint8_t *buf, size_t len)
{
    c->buf = buf;
    c->len = buf ? len : 0;
    c->off = 0;
    c->err = 0;
}

size_t vx_rcur_left(const struct vx_rcur *c)
{
    return c->err ? 0 : c->len - c->off;
}

/* Reserve n input bytes: a pointer to them, or NULL with the sticky error set. */
static const uint8_t *rcur_take(struct vx_rcur *c, size_t n)
{
    if (c->err)
        return NULL;
    if (n > c->len - c->off) {
        c->err = VX_ERR_TRUNC;
        return NULL;
    }
    const uint8_t *p = c->buf + c->off;
    c->off += n;
    return p;
}

int vx_rcur_u8(struct vx_rcur *c, uint8_t *v)
{
    const uint8_t *p = rcur_take(c, 1);
    if (!p)
        return c->err;
    *v = p[0];
    return 0;
}

int vx_rcur_u16(struct vx_rcur *c, uint16_t *v)
{
    const uint8_t *p = rcur_take(c, 2);
    if (!p)
        return c->err;
    *v = vx_be16_get(p);
    return 0;
}

int vx_rcur_u32(struct vx_rcur *c, uint32_t *v)
{
    const uint8_t *p = rcur_take(c, 4);
    if (!p)
        return c->err;
    *v = vx_be32_get(p);
    return 0;
}

int vx_rcur_u64(struct vx_rcur *c, uint64_t *v)
{
    const uint8_t *p = rcur_take(c, 8);
    if (!p)
        return c->err;
    *v = vx_be64_get(p);
    return 0;
}

int vx_rcur_bytes(struct vx_rcur *c, void *out, size_t n)
{
    const uint8_t *p = rcur_take(c, n);
    if (!p)
        return c->err;
    if (n)
        memcpy(out, p, n);
    return 0;
}

int vx_rcur_ptr(struct vx_rcur *c, const uint8_t **pp, size_t n)
{
    const uint8_t *p = rcur_take(c, n);
    if (!p)
        return c->err;
    *pp = p;
    return 0;
}

int vx_rcur_fail(struct vx_rcur *c, int err)
{
    if (!c->err)
        c->err = err;
    return c->err;
}

void vx_wcur_init(struct vx_wcur *c, uint8_t *buf, size_t cap)
{
    c->buf = buf;
    c->cap = buf ? cap : 0;
    c->off = 0;
    c->err = 0;
}

static uint8_t *wcur_take(struct vx_wcur *c, size_t n)
{
    if (c->err)
        return NULL;
    if (n > c->cap - c->off) {
        c->err = VX_ERR_TOOBIG;
        return NULL;
    }
    uint8_t *p = c->buf + c->off;
    c->off += n;
    return p;
}

int vx_wcur_u8(struct vx_wcur *c, uint8_t v)
{
    uint8_t *p = wcur_take(c, 1);
    if (!p)
        return c->err;
    p[0] = v;
    return 0;
}

int vx_wcur_u16(struct vx_wcur *c, uint16_t v)
{
    uint8_t *p = wcur_take(c, 2);
    if (!p)
        return c->err;
    vx_be16_put(p, v);
    return 0;
}

int vx_wcur_u32(struct vx_wcur *c, uint32_t v)
{
    uint8_t *p = wcur_take(c, 4);
    if (!p)
        return c->err;
    vx_be32_put(p, v);
    return 0;
}

int vx_wcur_u64(struct vx_wcur *c, uint64_t v)
{
    uint8_t *p = wcur_take(c, 8);
    if (!p)
        return c->err;
    vx_be64_put(p, v);
    return 0;
}

int vx_wcur_bytes(struct vx_wcur *c, const void *src, size_t n)
{
    uint8_t *p = wcur_take(c, n);
    if (!p)
        return c->err;
    if (n)
        memcpy(p, src, n);
    return 0;
}

int vx_wcur_fail(struct vx_wcur *c, int err)
{
    if (!c->err)
        c->err = err;
    return c->err;
}
