/* chan_speed.c — seal throughput of the record AEADs.
 *
 * Seals 16 KiB and 64 KiB records in place with vx_chan_seal() for about
 * half a second per case and prints MB/s (10^6 bytes per second), next to
 * libsodium's own one-shot ChaCha20-Poly1305 on the same sizes as the named
 * peer, so the ratio shows the channel's overhead.  Not a test: run by hand,
 * `tests/bench/chan_speed [seconds]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/channel.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_chan(enum vx_aead a, uint8_t *buf, size_t len, double secs)
{
    uint8_t key[VX_CHAN_KEY_LEN];
    struct vx_chan *c;
    double t0, t;
    size_t n = 0;

    randombytes_buf(key, sizeof(key));
    c = vx_chan_new(a, key);
    if (!c)
        return -1;
    t0 = now();
    do {
        for (int i = 0; i < 16; i++, n++)
            if (vx_chan_seal(c, buf, len, NULL, 0) < 0)
                abort();
        t = now() - t0;
    } while (t < secs);
    vx_chan_free(c);
    return (double)n * (double)len / t / 1e6;
}

static double bench_sodium_chacha(uint8_t *buf, size_t len, double secs)
{
    uint8_t key[32], nonce[12] = {0}, mac[16];
    double t0, t;
    size_t n = 0;

    randombytes_buf(key, sizeof(key));
    t0 = now();
    do {
        for (int i = 0; i < 16; i++, n++) {
            nonce[4] = (uint8_t)n;
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, mac, NULL, buf, len, NULL, 0,
                                                               NULL, nonce, key);
        }
        t = now() - t0;
    } while (t < secs);
    return (double)n * (double)len / t / 1e6;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {16384, 65536};
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    uint8_t *buf;

    if (sodium_init() < 0)
        return 1;
    buf = malloc(65536 + VX_CHAN_TAG_LEN);
    if (!buf)
        return 1;
    memset(buf, 0xa5, 65536);
    printf("%-28s %8s %10s %8s\n", "cipher", "record", "MB/s", "ratio");
    for (size_t i = 0; i < 2; i++) {
        size_t len = sizes[i];
        double peer = bench_sodium_chacha(buf, len, secs);
        double cc = bench_chan(VX_AEAD_CHACHAPOLY, buf, len, secs);
        printf("%-28s %7zuK %10.0f %8s\n", "libsodium chacha (peer)", len / 1024, peer, "1.00");
        printf("%-28s %7zuK %10.0f %8.2f\n", "vx_chan ChaChaPoly", len / 1024, cc, cc / peer);
        if (vx_aead_aesgcm_available()) {
            double gcm = bench_chan(VX_AEAD_AESGCM, buf, len, secs);
            printf("%-28s %7zuK %10.0f %8.2f\n", "vx_chan AESGCM", len / 1024, gcm, gcm / peer);
        } else {
            printf("%-28s %7zuK %10s\n", "vx_chan AESGCM", len / 1024, "n/a");
        }
    }
    free(buf);
    return 0;
}
