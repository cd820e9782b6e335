/* fuzz_config.c — the config parser on arbitrary bytes.
 *
 * Every input must either parse (and then dump and free cleanly) or fail
 * with a diagnostic that names the file; never crash, hang or leak.  What
 * parses must dump as YAML that parses back to the same config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The dump (with secrets) is YAML that parses back to the same config:
 * parsing it and dumping again gives the same text. */
static void round_trip(const struct vx_config *cfg)
{
    char *d1 = NULL, *d2 = NULL, err[2048];
    size_t n1 = 0, n2 = 0;
    struct vx_config *again = NULL;
    FILE *f = open_memstream(&d1, &n1);

    if (!f || vx_config_dump_ex(cfg, f, VX_CONFIG_DUMP_SECRETS) != 0 || fclose(f) != 0)
        abort();
    if (vx_config_parse(d1, n1, "fuzz.yaml", &again, err, sizeof(err)) != 0)
        abort(); /* the dump does not parse: err says why */
    f = open_memstream(&d2, &n2);
    if (!f || vx_config_dump_ex(again, f, VX_CONFIG_DUMP_SECRETS) != 0 || fclose(f) != 0)
        abort();
    if (n1 != n2 || memcmp(d1, d2, n1) != 0)
        abort(); /* the dump parsed to a different config */
    vx_config_free(again);
    free(d1);
    free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vx_config *cfg = NULL;
    char err[2048];
    int rc = vx_config_parse((const char *)data, size, "fuzz.yaml", &cfg, err, sizeof(err));

    if (rc == 0) {
        if (!cfg)
            abort();
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            vx_config_dump(cfg, f);
            fclose(f);
        }
        if (vx_config_validate(cfg, err, sizeof(err)) != 0)
            abort(); /* parse promised a valid config */
        round_trip(cfg);
        vx_config_free(cfg);
    } else {
        if (cfg)
            abort();
        if (strncmp(err, "fuzz.yaml", 9) != 0)
            abort(); /* every failure names the file */
    }
    return 0;
}
