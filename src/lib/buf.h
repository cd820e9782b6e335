/* buf.h — a byte queue with a cap: backpressure in the type.
 *
 * Bytes are kept in a list of chunks allocated on demand and freed as soon
 * as they are drained, so an idle connection holds no buffer memory.  A
 * buffer never holds more than its cap: vx_buf_add() of more than
 * vx_buf_space() bytes adds nothing and answers VX_ERR_AGAIN, and
 * vx_buf_read_fd() reads at most vx_buf_space() bytes.  Callers stop reading
 * their source above a high-water mark and resume below a low one.
 */
#ifndef VX6_LIB_BUF_H
#define VX6_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VX_BUF_CHUNK 16384

struct vx_buf;

/* New empty buffer holding at most cap bytes.  Never returns NULL. */
struct vx_buf *vx_buf_new(size_t cap);
void vx_buf_free(struct vx_buf *b); /* accepts NULL */

size_t vx_buf_len(const struct vx_buf *b);
size_t vx_buf_cap(const struct vx_buf *b);
size_t vx_buf_space(const struct vx_buf *b);
/* Bytes of memory held in chunks right now (for accounting). */
size_t vx_buf_mem(const struct vx_buf *b);

/* Append len bytes.  0, or VX_ERR_AGAIN (nothing added) if over the cap. */
int vx_buf_add(struct vx_buf *b, const void *data, size_t len);

/* Pointer to the first contiguous run of queued bytes; returns its length
 * (0 when empty). */
size_t vx_buf_peek(const struct vx_buf *b, const uint8_t **data);
/* Fill up to max iovecs with the queued runs, front first; returns the count
 * (0 when empty).  For writev/sendmsg; vx_buf_drain() what was written. */
struct iovec;
int vx_buf_peekv(const struct vx_buf *b, struct iovec *iov, int max);
/* Copy up to n bytes from the front without removing them; returns count. */
size_t vx_buf_copyout(const struct vx_buf *b, void *out, size_t n);
/* Remove n bytes (at most vx_buf_len()) from the front. */
void vx_buf_drain(struct vx_buf *b, size_t n);
void vx_buf_clear(struct vx_buf *b);

/* read(2) up to min(max, space) bytes from fd.  Returns the count read,
 * 0 at EOF, VX_ERR_AGAIN if the fd would block or the buffer is full, or
 * VX_ERR_SYS (errno set). */
ssize_t vx_buf_read_fd(struct vx_buf *b, int fd, size_t max);
/* writev(2) queued bytes to fd and drain what was written.  Returns the
 * count written, VX_ERR_AGAIN if the fd would block, or VX_ERR_SYS. */
ssize_t vx_buf_write_fd(struct vx_buf *b, int fd);

#endif
