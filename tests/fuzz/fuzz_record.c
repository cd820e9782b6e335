/* fuzz_record.c — record decoding must never crash, and whatever decodes
 * must re-encode to exactly the input (one canonical encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_record r;
    uint8_t out[VX_RECORD_MAX];
    uint8_t key[VX_DHT_KEY_LEN];

    if (vx_record_decode(&r, data, size) != 0)
        return 0;
    int n = vx_record_encode(&r, out, sizeof(out));
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
        abort();
    (void)vx_record_verify(&r, 1700000010);
    vx_record_key(&r, key);
    return 0;
}
