/* fuzz_registry.c — loading the persisted registry file (peers, services,
 * pins, aliases) from arbitrary contents.
 *
 * The input is the body of the file; the harness adds the magic, the format
 * version and the BLAKE2b checksum so the parser behind the checksum is
 * reached, writes it to a private temporary directory and loads it.  A load
 * either fails as documented (the registry then empty) or succeeds; what
 * loaded must save, and load again to the same contents with nothing
 * dropped.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000010ull /* inside the validity of the seed records */

static char dir[64], path[96];

static void remove_files(void)
{
    char aside[160];
    /* a corrupt file is moved aside as "registry.corrupt-NOW" */
    snprintf(aside, sizeof(aside), "%s/registry.corrupt-%llu", dir, NOW);
    unlink(aside);
    unlink(path);
}

static void cleanup(void)
{
    remove_files();
    rmdir(dir);
}

static void init(void)
{
    if (path[0])
        return;
    if (sodium_init() < 0)
        abort();
    vx_log_set_level(VX_LOG_NONE);
    /* tmpfs if there is one: the save path fsyncs */
    snprintf(dir, sizeof(dir), "%s/vx6-fuzz-registry.XXXXXX",
             getenv("TMPDIR")                ? getenv("TMPDIR")
             : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                             : "/tmp");
    if (strlen(dir) > 40 || !mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/registry.bin", dir);
    atexit(cleanup);
}

static void write_image(const uint8_t *body, size_t n)
{
    uint8_t sum[32];
    crypto_generichash_state st;
    FILE *f = fopen(path, "wb");

    if (!f)
        abort();
    crypto_generichash_init(&st, NULL, 0, sizeof(sum));
    crypto_generichash_update(&st, (const uint8_t *)"vx6reg01", 8);
    crypto_generichash_update(&st, body, n);
    crypto_generichash_final(&st, sum, sizeof(sum));
    if (fwrite("vx6reg01", 1, 8, f) != 8 || (n && fwrite(body, 1, n, f) != n) ||
        fwrite(sum, 1, sizeof(sum), f) != sizeof(sum) || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_registry_stats st, st2;
    struct vx_registry *reg, *again = NULL;
    int rc;

    init();
    write_image(data, size);
    reg = vx_registry_new(path);
    rc = vx_registry_load(reg, NOW);
    vx_registry_stats(reg, &st);
    if (rc != 0) {
        if (rc != VX_ERR_CORRUPT || st.peers || st.services || st.pins || st.aliases)
            abort();
        goto out;
    }
    if (vx_registry_save(reg) != 0)
        abort();
    again = vx_registry_new(path);
    if (vx_registry_load(again, NOW) != 0)
        abort();
    vx_registry_stats(again, &st2);
    if (st2.dropped_on_load != 0 || st2.peers != st.peers || st2.services != st.services ||
        st2.pins != st.pins || st2.aliases != st.aliases)
        abort();
out:
    vx_registry_free(again);
    vx_registry_free(reg);
    remove_files();
    return 0;
}
