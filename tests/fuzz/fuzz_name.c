/* fuzz_name.c — host classification on arbitrary strings.
 *
 * Checks invariants: a success yields a kind, a lower-case NUL-terminated
 * host no longer than 253 characters, and parts that are within bounds;
 * parsing the normalized host again gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/name.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char host[512];
    struct vx_name n, again;
    int rc;

    if (size >= sizeof(host))
        size = sizeof(host) - 1;
    memcpy(host, data, size);
    host[size] = '\0';
    rc = vx_name_parse(host, VX_NAME_ALLOW_CLEARNET, &n);
    if (rc != 0 && rc != VX_ERR_BADADDR && rc != VX_ERR_TOOBIG)
        abort();
    if (rc == 0) {
        if (n.kind < VX_NAME_SERVICE || n.kind > VX_NAME_CLEARNET)
            abort();
        if (strlen(n.host) > VX_NAME_HOST_MAX || !n.host[0])
            abort();
        for (const char *p = n.host; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
        if (n.kind == VX_NAME_HIDDEN && !vx_name_hidden_syntax_ok(n.address, strlen(n.address)))
            abort();
        if (vx_name_parse(n.host, VX_NAME_ALLOW_CLEARNET, &again) != 0 || again.kind != n.kind ||
            strcmp(again.host, n.host) != 0)
            abort();
        if (n.kind != VX_NAME_CLEARNET && vx_name_parse(host, 0, &again) != 0)
            abort();
    }
    return 0;
}
