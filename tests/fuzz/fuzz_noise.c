/* fuzz_noise.c — arbitrary bytes as Noise handshake messages and records.
 *
 * The side under test (XX or IK, initiator or responder) reads each input
 * chunk as its peer's next handshake message at whatever stage it is, and
 * once done opens the remaining chunks as transport records with both
 * AEADs.  See noise_cast.h for the input format; the seed corpus in
 * tests/fuzz/corpus/noise holds real transcripts (gen_noise_corpus.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/channel.h"
#include "noise_cast.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fn_cast cast;
static int ready;

static void open_records(struct vx_noise *n, enum vx_aead a, const uint8_t *p, size_t len)
{
    struct vx_chan *tx, *rx;
    uint8_t *buf;

    if (vx_noise_split(n, a, &tx, &rx) < 0)
        return;
    while (len >= 2) {
        size_t rl = ((size_t)p[0] << 8) | p[1];
        p += 2, len -= 2;
        if (rl > len)
            rl = len;
        buf = malloc(rl ? rl : 1);
        if (!buf)
            abort();
        memcpy(buf, p, rl);
        if (vx_chan_open(rx, buf, rl, NULL, 0) < 0) {
            free(buf);
            break;
        }
        free(buf);
        p += rl, len -= rl;
    }
    vx_chan_free(tx);
    vx_chan_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[VX_NOISE_MAX_MSG], pl[VX_NOISE_MAX_MSG];
    struct vx_noise *n;
    size_t off = 1, outlen, plen;
    int scenario;

    if (!ready) {
        vx_log_set_level(VX_LOG_NONE);
        if (fn_cast_init(&cast) < 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    scenario = data[0] % FN_SCENARIOS;
    n = fn_party(&cast, scenario, fn_victim_is_initiator(scenario));

    while (!vx_noise_done(n)) {
        size_t ml;
        if (vx_noise_want_write(n)) {
            /* fails only on a bad peer key (a low-order point) */
            if (vx_noise_write(n, (const uint8_t *)"v", 1, out, sizeof(out), &outlen) < 0)
                goto out;
            continue;
        }
        if (size - off < 2)
            goto out;
        ml = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (ml > size - off)
            ml = size - off;
        /* vary the payload capacity a little to reach the TOOBIG path */
        if (vx_noise_read(n, data + off, ml, pl, (data[0] & 0x80) ? 8 : sizeof(pl), &plen) < 0)
            goto out;
        off += ml;
    }
    open_records(n, VX_AEAD_CHACHAPOLY, data + off, size - off);
    if (vx_aead_aesgcm_available())
        open_records(n, VX_AEAD_AESGCM, data + off, size - off);
out:
    vx_noise_free(n);
    return 0;
}
