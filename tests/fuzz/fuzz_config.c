/* fuzz_config.c — the config parser on arbitrary bytes.
 *
 * Every input must either parse (and then dump and free cleanly) or fail
 * with a diagnostic that names the file; never crash, hang or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        vx_config_free(cfg);
    } else {
        if (cfg)
            abort();
        if (strncmp(err, "fuzz.yaml", 9) != 0)
            abort(); /* every failure names the file */
    }
    return 0;
}
