/* frame.c — encode/decode of the TCP session messages (see frame.h). */
#include "wire/frame.h"

#include <string.h>

#include "lib/err.h"
#include "wire/cursor.h"

int vx_wire_hs_first_encode(uint8_t out[VX_HS_FIRST_HDR_LEN], uint8_t pattern, size_t len)
{
    if (len == 0 || len > VX_HS_MAX_MSG)
        return VX_ERR_TOOBIG;
    out[0] = VX_WIRE_VERSION;
    out[1] = pattern;
    vx_be16_put(out + 2, (uint16_t)len);
    return 0;
}

int vx_wire_hs_first_decode(const uint8_t *in, size_t n, uint8_t *pattern, size_t *len)
{
    /* The version is judged as soon as one byte is there, so a peer speaking
     * something else is turned away without waiting for more. */
    if (n < 1)
        return VX_ERR_TRUNC;
    if (in[0] != VX_WIRE_VERSION)
        return VX_ERR_VERSION;
    if (n < VX_HS_FIRST_HDR_LEN)
        return VX_ERR_TRUNC;
    if (in[1] != VX_HS_XX && in[1] != VX_HS_IK)
        return VX_ERR_PROTO;
    uint16_t l = vx_be16_get(in + 2);
    if (l == 0)
        return VX_ERR_PROTO;
    *pattern = in[1];
    *len = l;
    return 0;
}

int vx_wire_hs_encode(uint8_t out[VX_HS_HDR_LEN], size_t len)
{
    if (len == 0 || len > VX_HS_MAX_MSG)
        return VX_ERR_TOOBIG;
    vx_be16_put(out, (uint16_t)len);
    return 0;
}

int vx_wire_hs_decode(const uint8_t *in, size_t n, size_t *len)
{
    if (n < VX_HS_HDR_LEN)
        return VX_ERR_TRUNC;
    uint16_t l = vx_be16_get(in);
    if (l == 0)
        return VX_ERR_PROTO;
    *len = l;
    return 0;
}

int vx_wire_hello_encode(const struct vx_wire_hello *h, uint8_t *out, size_t cap, size_t *outlen)
{
    struct vx_wcur w;
    if (h->n_aead == 0 || h->n_aead > VX_WIRE_MAX_AEAD)
        return VX_ERR_INVAL;
    vx_wcur_init(&w, out, cap);
    vx_wcur_u8(&w, VX_WIRE_VERSION);
    vx_wcur_u8(&w, h->n_aead);
    vx_wcur_bytes(&w, h->aead, h->n_aead);
    vx_wcur_u32(&w, h->stream_window);
    vx_wcur_u32(&w, h->session_window);
    vx_wcur_u32(&w, h->max_streams);
    if (w.err)
        return w.err;
    *outlen = w.off;
    return 0;
}

int vx_wire_hello_decode(const uint8_t *in, size_t n, struct vx_wire_hello *h)
{
    struct vx_rcur c;
    uint8_t ver = 0;
    vx_rcur_init(&c, in, n);
    memset(h, 0, sizeof(*h));
    if (vx_rcur_u8(&c, &ver) < 0 || vx_rcur_u8(&c, &h->n_aead) < 0)
        return c.err;
    if (ver != VX_WIRE_VERSION)
        return VX_ERR_VERSION;
    if (h->n_aead == 0 || h->n_aead > VX_WIRE_MAX_AEAD)
        return VX_ERR_PROTO;
    vx_rcur_bytes(&c, h->aead, h->n_aead);
    vx_rcur_u32(&c, &h->stream_window);
    vx_rcur_u32(&c, &h->session_window);
    vx_rcur_u32(&c, &h->max_streams);
    if (c.err)
        return c.err;
    if (vx_rcur_left(&c) != 0)
        return VX_ERR_PROTO;
    return 0;
}

int vx_wire_rec_hdr_encode(uint8_t out[VX_REC_HDR_LEN], size_t plain_len)
{
    if (plain_len == 0 || plain_len > VX_REC_MAX_PLAIN)
        return VX_ERR_TOOBIG;
    vx_be32_put(out, (uint32_t)(plain_len + VX_REC_TAG_LEN));
    return 0;
}

int vx_wire_rec_hdr_decode(const uint8_t *in, size_t n, size_t *ct_len)
{
    if (n < VX_REC_HDR_LEN)
        return VX_ERR_TRUNC;
    uint32_t l = vx_be32_get(in);
    if (l > VX_REC_MAX_PLAIN + VX_REC_TAG_LEN)
        return VX_ERR_TOOBIG;
    if (l < VX_REC_TAG_LEN + 1)
        return VX_ERR_PROTO;
    *ct_len = l;
    return 0;
}

void vx_frame_data_hdr(uint8_t out[VX_FRAME_DATA_HDR_LEN], uint32_t sid, uint16_t len)
{
    out[0] = VX_FR_DATA;
    vx_be32_put(out + 1, sid);
    vx_be16_put(out + 5, len);
}

static int target_valid(const struct vx_wire_target *t, size_t name_len)
{
    if (t->kind < 1 || t->kind > 3)
        return 0;
    if (name_len > VX_WIRE_NAME_MAX || t->data_len > VX_WIRE_TDATA_MAX)
        return 0;
    return 1;
}

int vx_frame_encode(const struct vx_frame *f, uint8_t *out, size_t cap, size_t *outlen)
{
    struct vx_wcur w;
    size_t nlen;

    vx_wcur_init(&w, out, cap);
    switch (f->type) {
    case VX_FR_STREAM_OPEN:
    case VX_FR_OPEN_OK:
    case VX_FR_OPEN_FAIL:
    case VX_FR_DATA:
    case VX_FR_FIN:
    case VX_FR_RESET:
        if (f->sid == 0)
            return VX_ERR_INVAL;
        break;
    case VX_FR_WINDOW_UPDATE:
        if (f->incr == 0)
            return VX_ERR_INVAL;
        break;
    case VX_FR_PING:
    case VX_FR_PONG:
    case VX_FR_GOAWAY:
    case VX_FR_REKEY:
        break;
    default:
        return VX_ERR_INVAL;
    }
    vx_wcur_u8(&w, f->type);
    switch (f->type) {
    case VX_FR_STREAM_OPEN:
        nlen = strnlen(f->target.name, sizeof(f->target.name));
        if (!target_valid(&f->target, nlen))
            return nlen > VX_WIRE_NAME_MAX ? VX_ERR_TOOBIG : VX_ERR_INVAL;
        vx_wcur_u32(&w, f->sid);
        vx_wcur_u8(&w, f->target.kind);
        vx_wcur_u16(&w, f->target.port);
        vx_wcur_u8(&w, (uint8_t)nlen);
        vx_wcur_bytes(&w, f->target.name, nlen);
        vx_wcur_u16(&w, f->target.data_len);
        vx_wcur_bytes(&w, f->target.data, f->target.data_len);
        break;
    case VX_FR_OPEN_OK:
    case VX_FR_FIN:
        vx_wcur_u32(&w, f->sid);
        break;
    case VX_FR_OPEN_FAIL:
    case VX_FR_RESET:
        vx_wcur_u32(&w, f->sid);
        vx_wcur_u16(&w, f->reason);
        break;
    case VX_FR_DATA:
        if (f->data_len == 0)
            return VX_ERR_INVAL;
        vx_wcur_u32(&w, f->sid);
        vx_wcur_u16(&w, f->data_len);
        vx_wcur_bytes(&w, f->data, f->data_len);
        break;
    case VX_FR_WINDOW_UPDATE:
        vx_wcur_u32(&w, f->sid);
        vx_wcur_u32(&w, f->incr);
        break;
    case VX_FR_PING:
    case VX_FR_PONG:
        vx_wcur_bytes(&w, f->opaque, sizeof(f->opaque));
        break;
    case VX_FR_GOAWAY:
        vx_wcur_u32(&w, f->sid);
        vx_wcur_u16(&w, f->reason);
        break;
    case VX_FR_REKEY:
        break;
    }
    if (w.err)
        return w.err;
    *outlen = w.off;
    return 0;
}

static int decode_open(struct vx_rcur *c, struct vx_frame *f)
{
    uint8_t nlen = 0;
    const uint8_t *name = NULL;

    vx_rcur_u32(c, &f->sid);
    vx_rcur_u8(c, &f->target.kind);
    vx_rcur_u16(c, &f->target.port);
    vx_rcur_u8(c, &nlen);
    if (c->err)
        return c->err;
    if (nlen > VX_WIRE_NAME_MAX)
        return VX_ERR_PROTO;
    if (vx_rcur_ptr(c, &name, nlen) < 0 || vx_rcur_u16(c, &f->target.data_len) < 0)
        return c->err;
    if (f->target.data_len > VX_WIRE_TDATA_MAX)
        return VX_ERR_PROTO;
    if (vx_rcur_bytes(c, f->target.data, f->target.data_len) < 0)
        return c->err;
    if (memchr(name, 0, nlen))
        return VX_ERR_PROTO;
    memcpy(f->target.name, name, nlen);
    f->target.name[nlen] = 0;
    if (!target_valid(&f->target, nlen))
        return VX_ERR_PROTO;
    return 0;
}

int vx_frame_decode(const uint8_t *in, size_t n, struct vx_frame *f, size_t *used)
{
    struct vx_rcur c;
    int r;

    vx_rcur_init(&c, in, n);
    memset(f, 0, offsetof(struct vx_frame, target));
    f->target.kind = 0;
    f->target.name[0] = 0;
    f->target.data_len = 0;
    if ((r = vx_rcur_u8(&c, &f->type)) < 0)
        return r;
    switch (f->type) {
    case VX_FR_STREAM_OPEN:
        if ((r = decode_open(&c, f)) < 0)
            return r;
        break;
    case VX_FR_OPEN_OK:
    case VX_FR_FIN:
        vx_rcur_u32(&c, &f->sid);
        break;
    case VX_FR_OPEN_FAIL:
    case VX_FR_RESET:
    case VX_FR_GOAWAY:
        vx_rcur_u32(&c, &f->sid);
        vx_rcur_u16(&c, &f->reason);
        break;
    case VX_FR_DATA:
        vx_rcur_u32(&c, &f->sid);
        vx_rcur_u16(&c, &f->data_len);
        if (!c.err && f->data_len == 0)
            return VX_ERR_PROTO;
        vx_rcur_ptr(&c, &f->data, f->data_len);
        break;
    case VX_FR_WINDOW_UPDATE:
        vx_rcur_u32(&c, &f->sid);
        vx_rcur_u32(&c, &f->incr);
        if (!c.err && f->incr == 0)
            return VX_ERR_PROTO;
        break;
    case VX_FR_PING:
    case VX_FR_PONG:
        vx_rcur_bytes(&c, f->opaque, sizeof(f->opaque));
        break;
    case VX_FR_REKEY:
        break;
    default:
        return VX_ERR_PROTO;
    }
    if (c.err)
        return c.err;
    if (f->sid == 0 && f->type != VX_FR_WINDOW_UPDATE && f->type != VX_FR_GOAWAY &&
        f->type != VX_FR_PING && f->type != VX_FR_PONG && f->type != VX_FR_REKEY)
        return VX_ERR_PROTO;
    *used = c.off;
    return 0;
}

static const struct {
    int err;
    uint16_t rsn;
} reason_map[] = {
        {0, VX_RSN_NONE},
        {VX_ERR_INTERNAL, VX_RSN_INTERNAL},
        {VX_ERR_REFUSED, VX_RSN_REFUSED},
        {VX_ERR_NOTFOUND, VX_RSN_NOTFOUND},
        {VX_ERR_DENIED, VX_RSN_DENIED},
        {VX_ERR_TIMEOUT, VX_RSN_TIMEOUT},
        {VX_ERR_UNREACH, VX_RSN_UNREACH},
        {VX_ERR_LIMIT, VX_RSN_LIMIT},
        {VX_ERR_PROTO, VX_RSN_PROTO},
        {VX_ERR_CLOSED, VX_RSN_CLOSED},
        {VX_ERR_RESET, VX_RSN_RESET},
        {VX_ERR_AUTH, VX_RSN_AUTH},
        {VX_ERR_BADADDR, VX_RSN_BADADDR},
        {VX_ERR_PEER_ID, VX_RSN_PEER_ID},
        {VX_ERR_INVAL, VX_RSN_INVAL},
        {VX_ERR_ROUTE, VX_RSN_ROUTE},
};

uint16_t vx_wire_reason_from_err(int err)
{
    for (size_t i = 0; i < sizeof(reason_map) / sizeof(reason_map[0]); i++)
        if (reason_map[i].err == err)
            return reason_map[i].rsn;
    return VX_RSN_INTERNAL;
}

int vx_wire_reason_to_err(uint16_t reason)
{
    for (size_t i = 0; i < sizeof(reason_map) / sizeof(reason_map[0]); i++)
        if (reason_map[i].rsn == reason)
            return reason_map[i].err;
    return VX_ERR_RESET;
}

const char *vx_frame_type_name(uint8_t type)
{
    static const char *const names[] = {
            [VX_FR_STREAM_OPEN] = "STREAM_OPEN",
            [VX_FR_OPEN_OK] = "OPEN_OK",
            [VX_FR_OPEN_FAIL] = "OPEN_FAIL",
            [VX_FR_DATA] = "DATA",
            [VX_FR_FIN] = "FIN",
            [VX_FR_RESET] = "RESET",
            [VX_FR_WINDOW_UPDATE] = "WINDOW_UPDATE",
            [VX_FR_PING] = "PING",
            [VX_FR_PONG] = "PONG",
            [VX_FR_GOAWAY] = "GOAWAY",
            [VX_FR_REKEY] = "REKEY",
    };
    if (type < sizeof(names) / sizeof(names[0]) && names[type])
        return names[type];
    return "UNKNOWN";
}
