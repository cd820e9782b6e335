/* fuzz_frame.c — session message decoders on arbitrary bytes.
 *
 * The input is treated as a record plaintext (a frame sequence), and its
 * prefix as each header type.  Every frame that decodes must re-encode to the
 * same bytes, so encoder and decoder cannot drift apart. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pat, out[VX_REC_MAX_PLAIN];
    size_t len, used, olen;
    struct vx_wire_hello h;
    struct vx_frame f;

    (void)vx_wire_hs_first_decode(data, size, &pat, &len);
    (void)vx_wire_hs_decode(data, size, &len);
    (void)vx_wire_rec_hdr_decode(data, size, &len);
    if (vx_wire_hello_decode(data, size, &h) == 0) {
        if (vx_wire_hello_encode(&h, out, sizeof(out), &olen) != 0 || olen != size ||
            memcmp(out, data, size) != 0)
            abort();
    }

    size_t off = 0;
    while (off < size && vx_frame_decode(data + off, size - off, &f, &used) == 0) {
        if (used == 0 || used > size - off)
            abort();
        if (vx_frame_encode(&f, out, sizeof(out), &olen) != 0 || olen != used ||
            memcmp(out, data + off, used) != 0)
            abort();
        (void)vx_wire_reason_to_err(f.reason);
        off += used;
    }
    return 0;
}
