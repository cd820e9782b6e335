/* testutil.h — helpers shared by the unit tests (cmocka): hex vectors,
 * scratch directories, running an event loop for a while.
 *
 * The hex and directory helpers fail the running test (cmocka assertions)
 * instead of returning errors, so call them from inside a test or a
 * setup/teardown function. */
#ifndef VX6_TESTS_TESTUTIL_H
#define VX6_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* Decode hex digits (either case) into out, skipping whitespace, so vectors
 * may be grouped: "01 0203 deadbeef".  Any other character, an odd number
 * of digits or more than cap bytes fails the test.  Returns the length. */
size_t tu_unhex(const char *hex, uint8_t *out, size_t cap);

/* Lower-case hex of in[0..n) into out, which holds 2n+1 bytes.  Returns out. */
char *tu_hex(char *out, const uint8_t *in, size_t n);

/* Create a fresh directory "/tmp/vx6-test-<name>-XXXXXX" into dir (cap
 * bytes).  0, or -1 (for a cmocka setup function to return). */
int tu_tmpdir_make(char *dir, size_t cap, const char *name);
/* Remove dir and everything below it (no shell, links not followed).
 * 0, or -1 if anything could not be removed. */
int tu_tmpdir_remove(const char *dir);

/* Run loop for about `seconds`, polling every millisecond. */
void tu_run_for(struct ev_loop *loop, double seconds);
/* Same, but stop as soon as *done is non-zero.  Returns *done. */
int tu_run_until(struct ev_loop *loop, const int *done, double seconds);

#endif
