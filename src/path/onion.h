/* onion.h — per-hop key agreement and layers of a relay circuit.
 *
 * Handshake (one round trip, after Tor's ntor, with BLAKE2b):
 *   relay B: Ed25519 key pk_B, node ID = BLAKE2b(pk_B), X25519 static b/B
 *            derived from it (the key the transport's Noise handshake uses).
 *   client:  ephemeral x/X, sends CREATE {version, aead, X}.
 *   relay:   ephemeral y/Y;
 *            secret = X25519(y,X) | X25519(b,X) | ID | B | X | Y | aead | PROTOID
 *            seed   = H_k("vx6-relay-ntor-1:key_extract", secret)
 *            verify = H_k("vx6-relay-ntor-1:verify", secret)
 *            AUTH   = H_k("vx6-relay-ntor-1:mac", verify | ID | B | Y | X | PROTOID | "Server")
 *            answers CREATED {Y, AUTH}.
 *   client:  computes the same from X25519(x,Y) | X25519(x,B) and checks AUTH in
 *            constant time: only the holder of b can produce it.
 *   keys:    forward  = H_k(seed, "vx6 relay forward"),
 *            backward = H_k(seed, "vx6 relay backward"),
 *            binding  = H_k(seed, "vx6 relay binding")  (signed by clients that
 *            authenticate to the exit).
 * H_k is keyed BLAKE2b-256.  A low-order point (all-zero DH) fails.
 *
 * Layers: each hop has a forward and a backward AEAD channel (crypto/channel:
 * sequence-number nonces), so a replayed, dropped, reordered or altered cell
 * fails at the first hop that opens it.
 */
#ifndef VX6_PATH_ONION_H
#define VX6_PATH_ONION_H

#include <stdint.h>

#include "crypto/identity.h"
#include "wire/cell.h"

#define VX_ONION_PROTOID "vx6-relay-ntor-1"

struct vx_onion_keys {
    uint8_t fwd[32];
    uint8_t bwd[32];
    uint8_t binding[32];
    uint8_t aead;
};

struct vx_onion_client {
    uint8_t x_sk[32], x_pk[32];
    uint8_t id[VX_NODE_ID_LEN];
    uint8_t b[VX_X25519_LEN];
    uint8_t aead;
};

/* Client: start a handshake with the relay whose Ed25519 key is relay_pk.
 * 0 or VX_ERR_CRYPTO (bad key). */
int vx_onion_client_start(struct vx_onion_client *st, const uint8_t relay_pk[VX_PK_LEN],
                          uint8_t aead, struct vx_cell_create *out);
/* Client: check the relay's answer.  0, or VX_ERR_CRYPTO (AUTH wrong: not the
 * relay we chose, or tampered).  Wipes the ephemeral key either way. */
int vx_onion_client_finish(struct vx_onion_client *st, const struct vx_cell_created *in,
                           struct vx_onion_keys *keys);
/* Relay: answer a CREATE.  0, VX_ERR_CRYPTO (bad point), VX_ERR_INVAL (aead). */
int vx_onion_server(const struct vx_identity *me, const struct vx_cell_create *in,
                    struct vx_cell_created *out, struct vx_onion_keys *keys);

void vx_onion_keys_wipe(struct vx_onion_keys *k);

#endif
