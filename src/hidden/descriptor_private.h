/* descriptor_private.h — for tests and fuzzers only.
 *
 * vx_hsdesc_encode_plain() builds a correctly encrypted and signed
 * descriptor around arbitrary plaintext layers, so the inner parsers can be
 * fuzzed and malformed bodies tested: layer2 is sealed (with cookie, when
 * not NULL) inside a layer 1 "auth 0, u16 len, layer 2" — or, when layer1 is
 * not NULL, layer1 is used as the whole layer-1 plaintext.  Salts are zero.
 * o->period, revision and expires are used; version and blinded_pk set.
 * Returns the length or a negative VX_ERR_*.
 */
#ifndef VX6_HIDDEN_DESCRIPTOR_PRIVATE_H
#define VX6_HIDDEN_DESCRIPTOR_PRIVATE_H

#include "hidden/descriptor.h"

int vx_hsdesc_encode_plain(const struct vx_identity *svc, struct vx_hsdesc_outer *o,
                           const uint8_t *layer1, size_t l1len, const uint8_t *layer2, size_t l2len,
                           const uint8_t *cookie, uint8_t *out, size_t cap);

#endif
