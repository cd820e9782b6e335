/* onion.c — ntor-like per-hop handshake (see onion.h). */
#include "path/onion.h"

#include <string.h>

#include <sodium.h>

#include "crypto/channel.h"
#include "lib/err.h"

#define SECRET_LEN (32 + 32 + VX_NODE_ID_LEN + 32 + 32 + 32 + 1 + sizeof(VX_ONION_PROTOID) - 1)

static void hk(uint8_t out[32], const char *key, const uint8_t *key_bytes, size_t klen,
               const uint8_t *msg, size_t mlen)
{
    if (key)
        crypto_generichash(out, 32, msg, mlen, (const uint8_t *)key, strlen(key));
    else
        crypto_generichash(out, 32, msg, mlen, key_bytes, klen);
}

static int aead_ok(uint8_t aead)
{
    return aead == VX_AEAD_CHACHAPOLY || (aead == VX_AEAD_AESGCM && vx_aead_aesgcm_available());
}

/* secret = dh1 | dh2 | ID | B | X | Y | aead | PROTOID; then keys and AUTH. */
static void derive(const uint8_t dh1[32], const uint8_t dh2[32], const uint8_t id[32],
                   const uint8_t b[32], const uint8_t x[32], const uint8_t y[32], uint8_t aead,
                   uint8_t auth[32], struct vx_onion_keys *k)
{
    uint8_t s[SECRET_LEN], seed[32], verify[32];
    uint8_t ai[32 + VX_NODE_ID_LEN + 32 + 32 + 32 + sizeof(VX_ONION_PROTOID) - 1 + 6];
    size_t o = 0;
    memcpy(s + o, dh1, 32), o += 32;
    memcpy(s + o, dh2, 32), o += 32;
    memcpy(s + o, id, VX_NODE_ID_LEN), o += VX_NODE_ID_LEN;
    memcpy(s + o, b, 32), o += 32;
    memcpy(s + o, x, 32), o += 32;
    memcpy(s + o, y, 32), o += 32;
    s[o++] = aead;
    memcpy(s + o, VX_ONION_PROTOID, sizeof(VX_ONION_PROTOID) - 1);
    hk(seed, VX_ONION_PROTOID ":key_extract", NULL, 0, s, sizeof(s));
    hk(verify, VX_ONION_PROTOID ":verify", NULL, 0, s, sizeof(s));
    o = 0;
    memcpy(ai + o, verify, 32), o += 32;
    memcpy(ai + o, id, VX_NODE_ID_LEN), o += VX_NODE_ID_LEN;
    memcpy(ai + o, b, 32), o += 32;
    memcpy(ai + o, y, 32), o += 32;
    memcpy(ai + o, x, 32), o += 32;
    memcpy(ai + o, VX_ONION_PROTOID, sizeof(VX_ONION_PROTOID) - 1);
    o += sizeof(VX_ONION_PROTOID) - 1;
    memcpy(ai + o, "Server", 6);
    hk(auth, VX_ONION_PROTOID ":mac", NULL, 0, ai, sizeof(ai));
    hk(k->fwd, NULL, seed, 32, (const uint8_t *)"vx6 relay forward", 17);
    hk(k->bwd, NULL, seed, 32, (const uint8_t *)"vx6 relay backward", 18);
    hk(k->binding, NULL, seed, 32, (const uint8_t *)"vx6 relay binding", 17);
    k->aead = aead;
    sodium_memzero(s, sizeof(s));
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(verify, sizeof(verify));
}

int vx_onion_client_start(struct vx_onion_client *st, const uint8_t relay_pk[VX_PK_LEN],
                          uint8_t aead, struct vx_cell_create *out)
{
    if (!aead_ok(aead))
        return VX_ERR_INVAL;
    if (vx_pk_to_x25519(relay_pk, st->b) < 0)
        return VX_ERR_CRYPTO;
    vx_node_id_from_pk(relay_pk, st->id);
    randombytes_buf(st->x_sk, sizeof(st->x_sk));
    crypto_scalarmult_base(st->x_pk, st->x_sk);
    st->aead = aead;
    out->version = VX_CELL_VERSION;
    out->aead = aead;
    memcpy(out->x, st->x_pk, 32);
    return 0;
}

int vx_onion_client_finish(struct vx_onion_client *st, const struct vx_cell_created *in,
                           struct vx_onion_keys *keys)
{
    uint8_t dh1[32], dh2[32], auth[32];
    int r = 0;
    if (crypto_scalarmult(dh1, st->x_sk, in->y) != 0 ||
        crypto_scalarmult(dh2, st->x_sk, st->b) != 0) {
        r = VX_ERR_CRYPTO;
        goto out;
    }
    derive(dh1, dh2, st->id, st->b, st->x_pk, in->y, st->aead, auth, keys);
    if (sodium_memcmp(auth, in->auth, 32) != 0) {
        vx_onion_keys_wipe(keys);
        r = VX_ERR_CRYPTO;
    }
out:
    sodium_memzero(dh1, sizeof(dh1));
    sodium_memzero(dh2, sizeof(dh2));
    sodium_memzero(st->x_sk, sizeof(st->x_sk));
    return r;
}

int vx_onion_server(const struct vx_identity *me, const struct vx_cell_create *in,
                    struct vx_cell_created *out, struct vx_onion_keys *keys)
{
    uint8_t y_sk[32], dh1[32], dh2[32];
    int r = 0;
    if (in->version != VX_CELL_VERSION)
        return VX_ERR_VERSION;
    if (!aead_ok(in->aead))
        return VX_ERR_INVAL;
    randombytes_buf(y_sk, sizeof(y_sk));
    crypto_scalarmult_base(out->y, y_sk);
    if (crypto_scalarmult(dh1, y_sk, in->x) != 0 || crypto_scalarmult(dh2, me->x_sk, in->x) != 0) {
        r = VX_ERR_CRYPTO;
        goto out;
    }
    derive(dh1, dh2, me->node_id, me->x_pk, in->x, out->y, in->aead, out->auth, keys);
out:
    sodium_memzero(y_sk, sizeof(y_sk));
    sodium_memzero(dh1, sizeof(dh1));
    sodium_memzero(dh2, sizeof(dh2));
    return r;
}

void vx_onion_keys_wipe(struct vx_onion_keys *k)
{
    sodium_memzero(k, sizeof(*k));
}
