/* testutil.c — helpers shared by the unit tests (see testutil.h). */
#include "testutil.h"

#include <errno.h>
#include <ev.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tu_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int v;
        if (*p == ' ' || *p == '\t' || *p == '\n')
            continue;
        if ((v = hexval(*p)) < 0)
            fail_msg("not a hex digit: '%c' in \"%s\"", *p, hex);
        if (hi < 0) {
            hi = v;
            continue;
        }
        assert_true(n < cap);
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        fail_msg("odd number of hex digits in \"%s\"", hex);
    return n;
}

char *tu_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
    return out;
}

int tu_tmpdir_make(char *dir, size_t cap, const char *name)
{
    int n = snprintf(dir, cap, "/tmp/vx6-test-%s-XXXXXX", name);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tu_tmpdir_remove(const char *dir)
{
    if (!dir || !dir[0])
        return -1;
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void tu_run_for(struct ev_loop *loop, double seconds)
{
    ev_tstamp end = ev_time() + seconds;
    while (ev_time() < end)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
}

int tu_run_until(struct ev_loop *loop, const int *done, double seconds)
{
    ev_tstamp end = ev_time() + seconds;
    while (!*done && ev_time() < end)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
    return *done;
}
