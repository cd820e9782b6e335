/* hsaddr.c — hidden-service addresses and per-service identity keys. */
#include "hidden/hsaddr.h"
#include "lib/base32.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CKSUM_CONST     ".vx6 checksum"
#define CKSUM_CONST_LEN (sizeof(CKSUM_CONST) - 1)

static void checksum(const uint8_t pk[VX_PK_LEN], uint8_t version, uint8_t out[2])
{
    crypto_generichash_state st;
    uint8_t h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)CKSUM_CONST, CKSUM_CONST_LEN);
    crypto_generichash_update(&st, pk, VX_PK_LEN);
    crypto_generichash_update(&st, &version, 1);
    crypto_generichash_final(&st, h, sizeof(h));
    out[0] = h[0];
    out[1] = h[1];
}

int vx_hsaddr_format(const uint8_t pk[VX_PK_LEN], char *out, size_t cap)
{
    uint8_t raw[VX_HSADDR_RAW_LEN];
    int n;

    memcpy(raw, pk, VX_PK_LEN);
    checksum(pk, VX_HSADDR_VERSION, raw + VX_PK_LEN);
    raw[VX_PK_LEN + VX_HSADDR_CKSUM_LEN] = VX_HSADDR_VERSION;
    n = vx_base32_encode(raw, sizeof(raw), out, cap);
    return n < 0 ? n : 0;
}

int vx_hsaddr_parse(const char *s, uint8_t pk[VX_PK_LEN])
{
    uint8_t raw[VX_HSADDR_RAW_LEN], want[2];
    size_t len;

    if (!s)
        return VX_ERR_BADADDR;
    len = strlen(s);
    if (len && s[len - 1] == '.')
        len--;
    if (len == VX_HSADDR_LEN + 4 && strncasecmp(s + VX_HSADDR_LEN, ".vx6", 4) == 0)
        len = VX_HSADDR_LEN;
    if (len != VX_HSADDR_LEN)
        return VX_ERR_BADADDR;
    if (vx_base32_decode(s, len, raw, sizeof(raw)) != VX_HSADDR_RAW_LEN)
        return VX_ERR_BADADDR;
    if (raw[VX_PK_LEN + VX_HSADDR_CKSUM_LEN] != VX_HSADDR_VERSION)
        return VX_ERR_BADADDR;
    checksum(raw, VX_HSADDR_VERSION, want);
    if (memcmp(want, raw + VX_PK_LEN, 2) != 0)
        return VX_ERR_BADADDR;
    /* A valid, prime-order-subgroup point: blinding and signatures work. */
    if (!crypto_core_ed25519_is_valid_point(raw))
        return VX_ERR_BADADDR;
    memcpy(pk, raw, VX_PK_LEN);
    return 0;
}

static int label_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int vx_hs_key_path(char *out, size_t cap, const char *data_dir, const char *name)
{
    char dir[4096], file[80];

    if (!name || !label_ok(name))
        return VX_ERR_BADADDR;
    if (vx_path_join(dir, sizeof(dir), data_dir, "hidden") < 0)
        return VX_ERR_TOOBIG;
    snprintf(file, sizeof(file), "%s.key", name);
    return vx_path_join(out, cap, dir, file) < 0 ? VX_ERR_TOOBIG : 0;
}

int vx_hs_key_load(struct vx_identity *id, const char *data_dir, const char *name, int create,
                   int *created)
{
    char path[4096], dir[4096];
    int rc, made = 0;

    if (created)
        *created = 0;
    memset(id, 0, sizeof(*id));
    if ((rc = vx_hs_key_path(path, sizeof(path), data_dir, name)) < 0)
        return rc;
    if (!create)
        return vx_identity_load(id, path);
    if (vx_path_join(dir, sizeof(dir), data_dir, "hidden") < 0)
        return VX_ERR_TOOBIG;
    if ((rc = vx_mkdir_p(dir, 0700)) < 0)
        return rc;
    rc = vx_identity_load_or_create(id, path, &made);
    if (rc == 0 && made)
        log_notice(LD_PATH, "created the key of hidden service %s in %s", name, path);
    if (created)
        *created = made;
    return rc;
}

int vx_hs_address_of(const char *data_dir, const char *name, char *out, size_t cap)
{
    struct vx_identity id;
    int rc = vx_hs_key_load(&id, data_dir, name, 0, NULL);

    if (rc == 0)
        rc = vx_hsaddr_format(id.pk, out, cap);
    vx_identity_wipe(&id);
    return rc;
}
