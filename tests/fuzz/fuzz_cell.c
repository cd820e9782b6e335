/* fuzz_cell.c — relay cell decoders on arbitrary bytes.
 *
 * The input is read as a stream of link cells, and each body (and the input
 * itself) as every relay structure.  What decodes must re-encode to the same
 * bytes, so encoders and decoders cannot drift apart. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/cell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void structures(const uint8_t *d, size_t n)
{
    uint8_t out[VX_CELL_PAYLOAD_MAX];
    size_t olen = 0;
    struct vx_cell_create cr;
    struct vx_cell_created cd;
    struct vx_cell_extend e;
    struct vx_cell_begin b;
    struct vx_cell_estintro ei;
    uint8_t rcmd, st;
    const uint8_t *p;
    size_t plen;

    if (vx_cell_create_decode(d, n, &cr) == 0) {
        vx_cell_create_encode(&cr, out);
        if (memcmp(out, d, VX_CELL_CREATE_LEN) != 0)
            abort();
    }
    if (vx_cell_created_decode(d, n, &cd) == 0) {
        vx_cell_created_encode(&cd, out);
        if (memcmp(out, d, VX_CELL_CREATED_LEN) != 0)
            abort();
    }
    if (vx_cell_extend_decode(d, n, &e) == 0) {
        if (vx_cell_extend_encode(&e, out, sizeof(out), &olen) != 0 || olen != n ||
            memcmp(out, d, n) != 0)
            abort();
    }
    if (vx_cell_begin_decode(d, n, &b) == 0) {
        if (vx_cell_begin_encode(&b, out, sizeof(out), &olen) != 0 || olen != n ||
            memcmp(out, d, n) != 0)
            abort();
    }
    if (vx_cell_estintro_decode(d, n, &ei) == 0) {
        vx_cell_estintro_encode(&ei, out);
        if (memcmp(out, d, VX_CELL_ESTINTRO_LEN) != 0)
            abort();
    }
    if (vx_cell_ack_decode(d, n, &st) == 0 && st != d[0])
        abort();
    if (vx_relay_payload_decode(d, n, &rcmd, &p, &plen) == 0) {
        if (vx_relay_payload_encode(rcmd, p, plen, out, sizeof(out), &olen) != 0 || olen != n ||
            memcmp(out, d, n) != 0)
            abort();
        structures(p, plen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, used = 0;
    struct vx_cell c;
    structures(data, size);
    while (off < size && vx_cell_decode(data + off, size - off, &c, &used) == 0) {
        if (used != (size_t)VX_CELL_HDR_LEN + c.len || c.body != data + off + VX_CELL_HDR_LEN)
            abort();
        structures(c.body, c.len);
        off += used;
    }
    return 0;
}
