/* driver.c — run a libFuzzer target without libFuzzer.
 *
 * Linked with each tests/fuzz/fuzz_*.c for `make check`: every file in the
 * target's seed corpus (FUZZ_CORPUS, or the files/directories given as
 * arguments) is fed to LLVMFuzzerTestOneInput, then a fixed number of
 * deterministic mutations of each (bit flips, truncations, insertions,
 * splices).  A crash or sanitizer report fails the test.  For coverage-guided
 * fuzzing build with --enable-fuzzing (clang, -fsanitize=fuzzer) instead.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT     (1u << 20)
#define MUTATIONS_PER_SEED 400

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static unsigned long n_inputs;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic across runs so failures reproduce */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void run_one(const uint8_t *data, size_t len)
{
    /* Copy into an exact-size heap block so ASan sees overreads. */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    n_inputs++;
}

static void mutate_and_run(const uint8_t *seed, size_t len)
{
    uint8_t *buf = malloc(len + 64);
    if (!buf)
        abort();
    for (int i = 0; i < MUTATIONS_PER_SEED; i++) {
        size_t n = len;
        memcpy(buf, seed, len);
        int ops = 1 + (int)(rng() % 4);
        for (int k = 0; k < ops; k++) {
            switch (rng() % 5) {
            case 0: /* flip a bit */
                if (n)
                    buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1: /* set a byte to an interesting value */
                if (n) {
                    static const uint8_t vals[] = {0,    1,    0x7f, 0x80, 0xff,
                                                   0xfe, '\r', '\n', ':',  '.'};
                    buf[rng() % n] = vals[rng() % sizeof(vals)];
                }
                break;
            case 2: /* truncate */
                if (n)
                    n = (size_t)(rng() % n);
                break;
            case 3: /* insert a random byte */
                if (n < len + 63) {
                    size_t at = n ? (size_t)(rng() % (n + 1)) : 0;
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (uint8_t)rng();
                    n++;
                }
                break;
            case 4: /* duplicate a chunk */
                if (n > 2 && n < len + 32) {
                    size_t from = (size_t)(rng() % n), cl = 1 + (size_t)(rng() % 16);
                    if (from + cl > n)
                        cl = n - from;
                    if (n + cl <= len + 63) {
                        memmove(buf + from + cl, buf + from, n - from);
                        n += cl;
                    }
                }
                break;
            }
        }
        run_one(buf, n);
    }
    free(buf);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(FUZZ_MAX_INPUT);
    if (!buf)
        abort();
    n = fread(buf, 1, FUZZ_MAX_INPUT, f);
    fclose(f);
    run_one(buf, n);
    mutate_and_run(buf, n);
    free(buf);
    return 0;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);

    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort), rc = 0;
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name);
            if (run_path(p) < 0)
                rc = -1;
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    /* Random inputs first: no corpus needed to find shallow bugs. */
    for (int i = 0; i < 2000; i++) {
        uint8_t buf[512];
        size_t n = (size_t)(rng() % sizeof(buf));
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rng();
        run_one(buf, n);
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (run_path(argv[i]) < 0)
                rc = 1;
    } else {
#ifdef FUZZ_CORPUS
        if (run_path(FUZZ_CORPUS) < 0)
            rc = 1;
#endif
    }
    printf("%s: %lu inputs, %s\n", argv[0], n_inputs, rc ? "corpus missing" : "no crash");
    return rc;
}
