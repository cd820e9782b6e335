/* xalloc.c — allocation that cannot fail (see xalloc.h). */
#include "lib/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t sz)
{
    /* No logging layer here: it may itself need memory. */
    fprintf(stderr, "vx6: out of memory (allocating %zu bytes)\n", sz);
    abort();
}

void *xmalloc(size_t sz)
{
    void *p = malloc(sz ? sz : 1);
    if (!p)
        oom(sz);
    return p;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom(n * sz);
    return p;
}

void *xrealloc(void *p, size_t sz)
{
    void *q = realloc(p, sz ? sz : 1);
    if (!q)
        oom(sz);
    return q;
}

void *xreallocarray(void *p, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        oom(SIZE_MAX);
    return xrealloc(p, n * sz);
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        oom(strlen(s) + 1);
    return d;
}
