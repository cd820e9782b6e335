/* test_buf.c — capped chunk queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 131);
}

static void test_cap_is_backpressure(void **state)
{
    struct vx_buf *b = vx_buf_new(100);
    uint8_t data[101];
    (void)state;
    fill(data, sizeof(data), 1);
    assert_int_equal(vx_buf_add(b, data, 60), 0);
    assert_int_equal(vx_buf_space(b), 40);
    /* Over the cap: nothing is added. */
    assert_int_equal(vx_buf_add(b, data, 41), VX_ERR_AGAIN);
    assert_int_equal(vx_buf_len(b), 60);
    assert_int_equal(vx_buf_add(b, data + 60, 40), 0);
    assert_int_equal(vx_buf_space(b), 0);
    assert_int_equal(vx_buf_add(b, data, 1), VX_ERR_AGAIN);
    vx_buf_free(b);
}

static void test_fifo_across_chunks(void **state)
{
    size_t n = 3 * VX_BUF_CHUNK + 123;
    uint8_t *in = malloc(n), *out = malloc(n);
    struct vx_buf *b = vx_buf_new(n);
    size_t got = 0;
    (void)state;
    fill(in, n, 7);
    /* Add in odd-sized pieces. */
    for (size_t off = 0; off < n;) {
        size_t k = (off % 1000) + 1;
        if (k > n - off)
            k = n - off;
        assert_int_equal(vx_buf_add(b, in + off, k), 0);
        off += k;
    }
    assert_int_equal(vx_buf_len(b), n);
    assert_int_equal(vx_buf_copyout(b, out, 10), 10);
    assert_memory_equal(out, in, 10);
    while (vx_buf_len(b) > 0) {
        const uint8_t *p;
        size_t k = vx_buf_peek(b, &p);
        assert_true(k > 0);
        if (k > 777)
            k = 777;
        memcpy(out + got, p, k);
        got += k;
        vx_buf_drain(b, k);
    }
    assert_int_equal(got, n);
    assert_memory_equal(in, out, n);
    /* Drained: no chunk memory held. */
    assert_int_equal(vx_buf_mem(b), 0);
    vx_buf_free(b);
    free(in);
    free(out);
}

/* peekv: the runs in order, capped at max, each one peek would give. */
static void test_peekv(void **state)
{
    size_t n = 2 * VX_BUF_CHUNK + 500;
    uint8_t *in = malloc(n);
    struct vx_buf *b = vx_buf_new(n);
    struct iovec iov[4];
    (void)state;
    fill(in, n, 3);
    assert_int_equal(vx_buf_peekv(b, iov, 4), 0);
    assert_int_equal(vx_buf_add(b, in, n), 0);
    vx_buf_drain(b, 100);
    assert_int_equal(vx_buf_peekv(b, iov, 4), 3);
    assert_int_equal(iov[0].iov_len, VX_BUF_CHUNK - 100);
    assert_memory_equal(iov[0].iov_base, in + 100, iov[0].iov_len);
    assert_int_equal(iov[1].iov_len, VX_BUF_CHUNK);
    assert_memory_equal(iov[1].iov_base, in + VX_BUF_CHUNK, VX_BUF_CHUNK);
    assert_int_equal(iov[2].iov_len, 500);
    assert_memory_equal(iov[2].iov_base, in + 2 * VX_BUF_CHUNK, 500);
    assert_int_equal(vx_buf_peekv(b, iov, 2), 2);
    vx_buf_free(b);
    free(in);
}

static void test_fd_io(void **state)
{
    int sv[2];
    uint8_t data[50000], back[50000];
    struct vx_buf *b = vx_buf_new(20000);
    ssize_t r;
    (void)state;
    fill(data, sizeof(data), 3);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    assert_int_equal(write(sv[0], data, 30000), 30000);
    /* Reads stop at the cap. */
    r = vx_buf_read_fd(b, sv[1], 1 << 20);
    assert_int_equal(r, 20000);
    assert_int_equal(vx_buf_read_fd(b, sv[1], 1 << 20), VX_ERR_AGAIN);
    assert_int_equal(vx_buf_copyout(b, back, 20000), 20000);
    assert_memory_equal(back, data, 20000);
    vx_buf_drain(b, 20000);
    assert_int_equal(vx_buf_read_fd(b, sv[1], 1 << 20), 10000);
    /* Empty socket: would block, and no empty chunk is left behind. */
    size_t mem = vx_buf_mem(b);
    assert_int_equal(vx_buf_read_fd(b, sv[1], 1 << 20), VX_ERR_AGAIN);
    assert_int_equal(vx_buf_mem(b), mem);
    /* write_fd drains what it wrote. */
    assert_int_equal(vx_buf_write_fd(b, sv[1]), 10000);
    assert_int_equal(vx_buf_len(b), 0);
    assert_int_equal(read(sv[0], back, sizeof(back)), 10000);
    assert_memory_equal(back, data + 20000, 10000);
    /* EOF */
    close(sv[0]);
    assert_int_equal(vx_buf_read_fd(b, sv[1], 100), 0);
    assert_int_equal(vx_buf_mem(b), 0);
    close(sv[1]);
    vx_buf_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cap_is_backpressure),
            cmocka_unit_test(test_fifo_across_chunks),
            cmocka_unit_test(test_peekv),
            cmocka_unit_test(test_fd_io),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
