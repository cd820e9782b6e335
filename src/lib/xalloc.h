/* xalloc.h — allocation that cannot fail.
 *
 * VX6 treats running out of memory as fatal: a daemon that cannot allocate a
 * few bytes cannot keep its promises about state, so it says so on stderr
 * and aborts (systemd restarts it; all durable state is written atomically).
 * Zero-sized requests return a unique non-NULL pointer.  xreallocarray
 * checks n * sz for overflow. */
#ifndef VX6_LIB_XALLOC_H
#define VX6_LIB_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t sz);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t sz);
void *xreallocarray(void *p, size_t n, size_t sz);
char *xstrdup(const char *s);

#endif
