/* fuzz_descriptor.c — hidden-service descriptor parsing.
 *
 * The first input byte picks what the rest is:
 *   0  a whole descriptor: holder check and client decode (with and
 *      without a client key) must fail cleanly or succeed consistently;
 *   1  layer-2 plaintext (the intro points), wrapped by the test helper in
 *      a valid signed and encrypted descriptor, so the inner parser is
 *      reached;
 *   2  layer-1 plaintext (client authorization and layer 2), likewise.
 * A successful decode must re-encode and decode to the same intro points.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hidden/descriptor.h"
#include "hidden/descriptor_private.h"
#include "lib/err.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PERIOD 19876ull
#define NOW    (PERIOD * 86400 + 40000)

static struct vx_identity svc;
static uint8_t client_sk[32];

static void init(void)
{
    static int done;
    uint8_t seed[32];
    if (done)
        return;
    if (sodium_init() < 0)
        abort();
    vx_log_set_level(VX_LOG_NONE);
    memset(seed, 7, sizeof(seed));
    if (vx_identity_from_seed(&svc, seed) < 0)
        abort();
    memset(client_sk, 9, sizeof(client_sk));
    done = 1;
}

static void check_ok(const struct vx_hsdesc *d)
{
    struct vx_hsdesc copy = *d, back;
    uint8_t buf[VX_HSDESC_MAX];
    int n;

    if (d->n_intros < 1 || d->n_intros > VX_HSDESC_MAX_INTROS)
        abort();
    n = vx_hsdesc_encode(&copy, &svc, NULL, 0, NULL, buf, sizeof(buf));
    if (n < 0)
        abort();
    if (vx_hsdesc_decode(&back, buf, (size_t)n, svc.pk, NULL, NOW) != 0)
        abort();
    if (back.n_intros != d->n_intros ||
        memcmp(back.intros, d->intros, sizeof(back.intros[0]) * d->n_intros) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_hsdesc d;
    struct vx_hsdesc_outer o;
    uint8_t buf[VX_HSDESC_MAX];
    int rc, n;

    init();
    if (size < 1)
        return 0;
    memset(&o, 0, sizeof(o));
    o.period = PERIOD;
    o.revision = 1;
    o.expires = NOW + 3600;
    switch (data[0] % 3) {
    case 0:
        rc = vx_hsdesc_parse_outer(&o, data + 1, size - 1, NOW);
        (void)rc;
        rc = vx_hsdesc_decode(&d, data + 1, size - 1, svc.pk, NULL, NOW);
        if (rc == 0)
            check_ok(&d);
        rc = vx_hsdesc_decode(&d, data + 1, size - 1, svc.pk, client_sk, NOW);
        if (rc == 0)
            check_ok(&d);
        return 0;
    case 1:
        n = vx_hsdesc_encode_plain(&svc, &o, NULL, 0, data + 1, size - 1, NULL, buf, sizeof(buf));
        break;
    default:
        n = vx_hsdesc_encode_plain(&svc, &o, data + 1, size - 1, NULL, 0, NULL, buf, sizeof(buf));
        break;
    }
    if (n < 0)
        return 0;
    if (vx_hsdesc_parse_outer(&o, buf, (size_t)n, NOW) != 0)
        abort(); /* our own wrapping must always pass the holder check */
    rc = vx_hsdesc_decode(&d, buf, (size_t)n, svc.pk, client_sk, NOW);
    if (rc == 0)
        check_ok(&d);
    else if (rc != VX_ERR_INVAL && rc != VX_ERR_AUTH && rc != VX_ERR_CRYPTO && rc != VX_ERR_TRUNC)
        abort();
    return 0;
}
