/* buf.c — a capped chunk queue. */
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

struct chunk {
    struct chunk *next;
    size_t start; /* first unread byte */
    size_t end;   /* one past the last written byte */
    uint8_t data[VX_BUF_CHUNK];
};

struct vx_buf {
    struct chunk *head, *tail;
    size_t len, cap, nchunks;
};

#define MAX_IOV 16

struct vx_buf *vx_buf_new(size_t cap)
{
    struct vx_buf *b = xcalloc(1, sizeof(*b));
    b->cap = cap;
    return b;
}

void vx_buf_free(struct vx_buf *b)
{
    if (!b)
        return;
    vx_buf_clear(b);
    free(b);
}

size_t vx_buf_len(const struct vx_buf *b)
{
    return b->len;
}

size_t vx_buf_cap(const struct vx_buf *b)
{
    return b->cap;
}

size_t vx_buf_space(const struct vx_buf *b)
{
    return b->len >= b->cap ? 0 : b->cap - b->len;
}

size_t vx_buf_mem(const struct vx_buf *b)
{
    return b->nchunks * sizeof(struct chunk);
}

static struct chunk *tail_with_room(struct vx_buf *b)
{
    if (b->tail && b->tail->end < VX_BUF_CHUNK)
        return b->tail;
    struct chunk *c = malloc(sizeof(*c));
    if (!c)
        abort();
    c->next = NULL;
    c->start = c->end = 0;
    if (b->tail)
        b->tail->next = c;
    else
        b->head = c;
    b->tail = c;
    b->nchunks++;
    return c;
}

int vx_buf_add(struct vx_buf *b, const void *data, size_t len)
{
    const uint8_t *p = data;

    if (len > vx_buf_space(b))
        return VX_ERR_AGAIN;
    while (len > 0) {
        struct chunk *c = tail_with_room(b);
        size_t n = VX_BUF_CHUNK - c->end;
        if (n > len)
            n = len;
        memcpy(c->data + c->end, p, n);
        c->end += n;
        b->len += n;
        p += n;
        len -= n;
    }
    return 0;
}

size_t vx_buf_peek(const struct vx_buf *b, const uint8_t **data)
{
    if (!b->head) {
        *data = NULL;
        return 0;
    }
    *data = b->head->data + b->head->start;
    return b->head->end - b->head->start;
}

size_t vx_buf_copyout(const struct vx_buf *b, void *out, size_t n)
{
    uint8_t *o = out;
    size_t done = 0;
    for (const struct chunk *c = b->head; c && done < n; c = c->next) {
        size_t k = c->end - c->start;
        if (k > n - done)
            k = n - done;
        memcpy(o + done, c->data + c->start, k);
        done += k;
    }
    return done;
}

void vx_buf_drain(struct vx_buf *b, size_t n)
{
    if (n > b->len)
        n = b->len;
    b->len -= n;
    while (n > 0 && b->head) {
        struct chunk *c = b->head;
        size_t k = c->end - c->start;
        if (k > n) {
            c->start += n;
            return;
        }
        n -= k;
        b->head = c->next;
        if (!b->head)
            b->tail = NULL;
        free(c);
        b->nchunks--;
    }
    /* A fully drained last chunk is freed above; an empty queue holds none. */
}

void vx_buf_clear(struct vx_buf *b)
{
    struct chunk *c = b->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    b->head = b->tail = NULL;
    b->len = 0;
    b->nchunks = 0;
}

/* Unlink and free the tail chunk; used when a freshly added chunk got no
 * bytes.  O(chunks), and only on EOF/EAGAIN. */
static void drop_tail(struct vx_buf *b)
{
    struct chunk *prev = NULL, *c = b->head;
    while (c != b->tail) {
        prev = c;
        c = c->next;
    }
    if (prev)
        prev->next = NULL;
    else
        b->head = NULL;
    b->tail = prev;
    free(c);
    b->nchunks--;
}

ssize_t vx_buf_read_fd(struct vx_buf *b, int fd, size_t max)
{
    size_t want = vx_buf_space(b);
    ssize_t total = 0;

    if (want > max)
        want = max;
    if (want == 0)
        return VX_ERR_AGAIN;
    while ((size_t)total < want) {
        int fresh = !(b->tail && b->tail->end < VX_BUF_CHUNK);
        struct chunk *c = tail_with_room(b);
        size_t room = VX_BUF_CHUNK - c->end;
        if (room > want - (size_t)total)
            room = want - (size_t)total;
        ssize_t n = read(fd, c->data + c->end, room);
        if (n < 0 && errno == EINTR) {
            if (fresh)
                drop_tail(b);
            continue;
        }
        if (n <= 0) {
            int saved = errno;
            if (fresh)
                drop_tail(b);
            errno = saved;
            if (total > 0)
                return total;
            if (n == 0)
                return 0;
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? VX_ERR_AGAIN : VX_ERR_SYS;
        }
        c->end += (size_t)n;
        b->len += (size_t)n;
        total += n;
        if ((size_t)n < room)
            break; /* short read: the socket is drained for now */
    }
    return total;
}

int vx_buf_peekv(const struct vx_buf *b, struct iovec *iov, int max)
{
    int n = 0;

    for (const struct chunk *c = b->head; c && n < max; c = c->next) {
        iov[n].iov_base = (void *)(c->data + c->start);
        iov[n].iov_len = c->end - c->start;
        n++;
    }
    return n;
}

ssize_t vx_buf_write_fd(struct vx_buf *b, int fd)
{
    struct iovec iov[MAX_IOV];
    int n;
    ssize_t w;

    if (b->len == 0)
        return 0;
    n = vx_buf_peekv(b, iov, MAX_IOV);
    do {
        w = writev(fd, iov, n);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? VX_ERR_AGAIN : VX_ERR_SYS;
    vx_buf_drain(b, (size_t)w);
    return w;
}
