/* noise_cast.h — the fixed cast of the Noise fuzz target and its corpus
 * generator: two identities, fixed ephemeral keys (so a transcript is
 * reproducible) and the four scenarios.
 *
 * Input format: byte 0 picks the scenario (pattern and which side is under
 * test, the "victim"); the rest is a sequence of [2-byte big-endian length]
 * [bytes] chunks.  Each chunk is handed to the victim as the next peer
 * message it reads; the victim writes its own messages in between.  Once
 * the handshake is done, further chunks are opened as transport records.
 */
#ifndef VX6_TESTS_FUZZ_NOISE_CAST_H
#define VX6_TESTS_FUZZ_NOISE_CAST_H

#include <string.h>

#include "crypto/identity.h"
#include "crypto/noise.h"
#include "crypto/noise_private.h"

#define FN_SCENARIOS    4
#define FN_PROLOGUE     ((const uint8_t *)"VX6 session v1")
#define FN_PROLOGUE_LEN 14

struct fn_cast {
    struct vx_identity ini, rsp;
    uint8_t e_ini[32], e_rsp[32];
};

static inline int fn_cast_init(struct fn_cast *c)
{
    uint8_t seed[VX_SEED_LEN];

    memset(seed, 0x11, sizeof(seed));
    if (vx_identity_from_seed(&c->ini, seed) < 0)
        return -1;
    memset(seed, 0x22, sizeof(seed));
    if (vx_identity_from_seed(&c->rsp, seed) < 0)
        return -1;
    memset(c->e_ini, 0x33, sizeof(c->e_ini));
    memset(c->e_rsp, 0x44, sizeof(c->e_rsp));
    return 0;
}

static inline enum vx_noise_pattern fn_pattern(int scenario)
{
    return scenario < 2 ? VX_NOISE_XX : VX_NOISE_IK;
}

/* The victim is the responder in even scenarios, the initiator in odd. */
static inline int fn_victim_is_initiator(int scenario)
{
    return scenario % 2;
}

static inline struct vx_noise *fn_party(const struct fn_cast *c, int scenario, int initiator)
{
    struct vx_noise *n;

    if (initiator)
        n = vx_noise_new(1, fn_pattern(scenario), &c->ini, c->rsp.pk, FN_PROLOGUE, FN_PROLOGUE_LEN);
    else
        n = vx_noise_new(0, fn_pattern(scenario), &c->rsp, NULL, FN_PROLOGUE, FN_PROLOGUE_LEN);
    vx_noise_set_ephemeral(n, initiator ? c->e_ini : c->e_rsp);
    return n;
}

#endif
