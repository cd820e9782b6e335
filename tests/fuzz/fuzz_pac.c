/* fuzz_pac.c — the PAC body for an arbitrary proxy host (it comes from the
 * Host header of the browser's request) and port.
 *
 * The first two bytes are the port, the third the mode, the rest the host.
 * A host that is accepted must land in the script only inside its string
 * literals, so no host can break out of them; the body must always fit in
 * VX_PAC_MAX, and a short buffer must be reported, never overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/pac.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char host[512], out[VX_PAC_MAX], small[64];
    enum vx_pac_mode mode;
    uint16_t port;
    int n;

    if (size < 3)
        return 0;
    port = (uint16_t)(data[0] << 8 | data[1]);
    mode = data[2] & 1 ? VX_PAC_ALL : VX_PAC_VX6_ONLY;
    size -= 3;
    if (size >= sizeof(host))
        size = sizeof(host) - 1;
    memcpy(host, data + 3, size);
    host[size] = '\0';

    n = vx_pac_build(host, port, mode, out, sizeof(out));
    if (n < 0) {
        if (n != VX_ERR_INVAL)
            abort(); /* VX_ERR_TOOBIG: the body did not fit VX_PAC_MAX */
        return 0;
    }
    if ((size_t)n >= sizeof(out) || strlen(out) != (size_t)n || !strstr(out, host) ||
        strncmp(out + n - 2, "}\n", 2) != 0)
        abort();
    for (const char *p = host; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '\n' || *p == ';' || *p == ' ')
            abort();
    if (vx_pac_build(host, port, mode, small, sizeof(small)) != VX_ERR_TOOBIG)
        abort();
    return 0;
}
