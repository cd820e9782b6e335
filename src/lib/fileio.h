/* fileio.h — small-file I/O with crash safety.
 *
 * vx_file_write_atomic() never leaves a half-written file at `path`: it
 * writes a temporary file in the same directory, fsyncs it, renames it over
 * `path` and fsyncs the directory.  After a crash at any moment `path` holds
 * either the old or the new content.
 */
#ifndef VX6_LIB_FILEIO_H
#define VX6_LIB_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write data atomically with permission bits `mode`.  0 or VX_ERR_SYS. */
int vx_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Read a whole regular file of at most max bytes into a malloc'd buffer
 * (NUL-terminated for convenience; *len excludes the NUL).  VX_ERR_NOTFOUND,
 * VX_ERR_TOOBIG, VX_ERR_INVAL (not a regular file) or VX_ERR_SYS. */
int vx_file_read(const char *path, size_t max, uint8_t **data, size_t *len);

/* mkdir -p with `mode` for directories it creates.  0 or VX_ERR_SYS. */
int vx_mkdir_p(const char *path, mode_t mode);

/* Join dir and name into out.  0 or VX_ERR_TOOBIG. */
int vx_path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
