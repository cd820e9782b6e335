/* fuzz_path_opts.c — per-request options in a SOCKS username
 * ("route=relay;hops=3,timeout=5000") on arbitrary client bytes.
 *
 * The result is 0 or VX_ERR_INVAL; a failure leaves the options as they
 * were; a success leaves every field in its documented range, and parsing
 * is idempotent (the same string again changes nothing more).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "path/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a SOCKS5 username is at most 255 bytes */
    char s[256];
    struct vx_path_opts o = {.route = VX_ROUTE_AUTO, .hops = 0, .timeout_ms = 0, .isolation = 0},
                        before, again;
    int rc;

    if (size >= sizeof(s))
        size = sizeof(s) - 1;
    memcpy(s, data, size);
    s[size] = '\0';

    before = o;
    rc = vx_path_opts_parse(&o, s);
    if (rc != 0) {
        if (rc != VX_ERR_INVAL || memcmp(&o, &before, sizeof(o)) != 0)
            abort();
        return 0;
    }
    if (o.route != VX_ROUTE_AUTO && o.route != VX_ROUTE_DIRECT && o.route != VX_ROUTE_RELAY)
        abort();
    if (o.hops > 8 || (o.timeout_ms != 0 && (o.timeout_ms < 100 || o.timeout_ms > 600000)))
        abort();
    if (!strchr(s, '=') && memcmp(&o, &before, sizeof(o)) != 0)
        abort();
    again = o;
    if (vx_path_opts_parse(&again, s) != 0 || memcmp(&o, &again, sizeof(o)) != 0)
        abort();
    if (vx_route_parse(vx_route_name(o.route)) != (int)o.route)
        abort();
    return 0;
}
