/* fuzz_hsaddr.c — hidden-service addresses, node IDs, public keys and
 * base32 text (what users type into `vx6`, the control socket and the
 * proxy) on arbitrary strings.
 *
 * A parsed address must format back to its canonical lower-case form; a
 * parsed node ID likewise; base32 that decodes must re-encode to the input
 * (lower-cased), since decoding is strict.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/identity.h"
#include "daemon/discovery.h"
#include "hidden/hsaddr.h"
#include "lib/base32.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    char s[256], txt[512], path[512];
    uint8_t pk[VX_PK_LEN], id[VX_NODE_ID_LEN], raw[256];
    int n;

    if (!init) {
        if (sodium_init() < 0)
            abort();
        init = 1;
    }
    if (size >= sizeof(s))
        size = sizeof(s) - 1;
    memcpy(s, data, size);
    s[size] = '\0';

    if (vx_hsaddr_parse(s, pk) == 0) {
        if (vx_hsaddr_format(pk, txt, sizeof(txt)) != 0 || strlen(txt) != VX_HSADDR_LEN ||
            strncasecmp(txt, s, VX_HSADDR_LEN) != 0)
            abort();
        for (const char *p = txt; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
    }
    if (vx_node_id_from_str(s, id) == 0) {
        if (vx_node_id_to_str(id, txt, sizeof(txt)) != 0 || strcasecmp(txt, s) != 0)
            abort();
    }
    /* `vx6 trust USER KEY`: 64 hex digits or 52 base32 characters */
    if (vx_discovery_parse_key(s, pk) == 0) {
        if (strlen(s) == 2 * VX_PK_LEN) {
            sodium_bin2hex(txt, sizeof(txt), pk, VX_PK_LEN);
            if (strcasecmp(txt, s) != 0)
                abort();
        } else if (vx_base32_encode(pk, VX_PK_LEN, txt, sizeof(txt)) != VX_NODE_ID_STRLEN ||
                   strcasecmp(txt, s) != 0) {
            abort();
        }
    }
    n = vx_base32_decode(s, strlen(s), raw, sizeof(raw));
    if (n >= 0) {
        if (vx_base32_encode(raw, (size_t)n, txt, sizeof(txt)) != (int)strlen(s) ||
            strcasecmp(txt, s) != 0)
            abort();
    } else if (n != VX_ERR_INVAL && n != VX_ERR_TOOBIG) {
        abort();
    }
    n = vx_hs_key_path(path, sizeof(path), "/var/lib/vx6", s);
    if (n == 0 && (strncmp(path, "/var/lib/vx6/hidden/", 20) != 0 || strchr(path + 20, '/')))
        abort();
    return 0;
}
