/* gen_noise_corpus.c — write the seed corpus of fuzz_noise.
 *
 * Plays both sides of each fuzz scenario with the fixed cast of
 * noise_cast.h and writes, per scenario, the messages the side under test
 * receives (a complete, valid handshake) plus one transport record, and a
 * second file that stops after the first message.  Run once:
 *     tests/fuzz/gen_noise_corpus tests/fuzz/corpus/noise
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/channel.h"
#include "noise_cast.h"

static uint8_t file[4 * (VX_NOISE_MAX_MSG + 2)];
static size_t flen;

static void put_chunk(const uint8_t *p, size_t len)
{
    file[flen++] = (uint8_t)(len >> 8);
    file[flen++] = (uint8_t)len;
    memcpy(file + flen, p, len);
    flen += len;
}

static int save(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(file, 1, flen, f) != flen || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static uint8_t msg[VX_NOISE_MAX_MSG], pl[VX_NOISE_MAX_MSG];
    static const char *names[FN_SCENARIOS] = {"xx-responder", "xx-initiator", "ik-responder",
                                              "ik-initiator"};
    struct fn_cast cast;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    if (fn_cast_init(&cast) < 0)
        return 1;
    for (int s = 0; s < FN_SCENARIOS; s++) {
        int vi = fn_victim_is_initiator(s), first_len = 0;
        struct vx_noise *victim = fn_party(&cast, s, vi), *peer = fn_party(&cast, s, !vi);
        char name[64];
        size_t len, plen;

        flen = 0;
        file[flen++] = (uint8_t)s;
        while (!vx_noise_done(victim)) {
            struct vx_noise *w = vx_noise_want_write(victim) ? victim : peer;
            struct vx_noise *r = w == victim ? peer : victim;
            /* the victim's payload must match what fuzz_noise writes */
            const char *p = w == victim ? "v" : "peer payload";
            if (vx_noise_write(w, (const uint8_t *)p, strlen(p), msg, sizeof(msg), &len) < 0 ||
                vx_noise_read(r, msg, len, pl, sizeof(pl), &plen) < 0) {
                fprintf(stderr, "scenario %d: handshake failed\n", s);
                return 1;
            }
            if (r == victim) {
                put_chunk(msg, len);
                if (!first_len)
                    first_len = (int)flen;
            }
        }
        {
            struct vx_chan *tx, *rx;
            if (vx_noise_split(peer, VX_AEAD_CHACHAPOLY, &tx, &rx) < 0)
                return 1;
            memcpy(msg, "a transport record", 18);
            vx_chan_seal(tx, msg, 18, NULL, 0);
            put_chunk(msg, 18 + VX_CHAN_TAG_LEN);
            vx_chan_free(tx);
            vx_chan_free(rx);
        }
        snprintf(name, sizeof(name), "%s-full", names[s]);
        if (save(argv[1], name) < 0)
            return 1;
        flen = (size_t)first_len;
        snprintf(name, sizeof(name), "%s-first", names[s]);
        if (save(argv[1], name) < 0)
            return 1;
        vx_noise_free(victim);
        vx_noise_free(peer);
    }
    return 0;
}
