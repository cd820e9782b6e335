/* fuzz_dhtmsg.c — DHT datagram decoding must never crash, and whatever
 * decodes must re-encode to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dhtmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_dhtmsg m;
    uint8_t out[VX_DHTMSG_MAX];

    if (vx_dhtmsg_decode(&m, data, size) != 0)
        return 0;
    int n = vx_dhtmsg_encode(&m, out, sizeof(out));
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
