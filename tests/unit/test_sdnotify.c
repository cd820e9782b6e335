/* test_sdnotify.c — sd_notify datagrams over a real AF_UNIX socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/sdnotify.h"
#include "lib/vxtime.h"

struct rx {
    int fd;
    char path[108];
};

/* Bind a datagram socket and point NOTIFY_SOCKET at it. */
static void rx_open(struct rx *r, int abstract)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len;
    struct timeval tv = {.tv_sec = 2};

    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    if (abstract) {
        snprintf(r->path, sizeof(r->path), "@vx6-test-sdnotify-%d", (int)getpid());
        memcpy(sun.sun_path, r->path, strlen(r->path));
        sun.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(r->path));
    } else {
        snprintf(r->path, sizeof(r->path), "/tmp/vx6-test-sdnotify-%d.sock", (int)getpid());
        unlink(r->path);
        strcpy(sun.sun_path, r->path);
        len = sizeof(sun);
    }
    assert_int_equal(bind(r->fd, (struct sockaddr *)&sun, len), 0);
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", r->path, 1);
}

static void rx_close(struct rx *r)
{
    close(r->fd);
    if (r->path[0] == '/')
        unlink(r->path);
    unsetenv("NOTIFY_SOCKET");
}

static void expect(struct rx *r, const char *want)
{
    char buf[1024];
    ssize_t n = recv(r->fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void expect_nothing(struct rx *r)
{
    char buf[16];
    assert_int_equal(recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
}

static void messages(int abstract)
{
    struct rx r;
    char buf[256];
    rx_open(&r, abstract);
    assert_int_equal(vx_sdnotify_ready(NULL), 0);
    expect(&r, "READY=1");
    assert_int_equal(vx_sdnotify_ready("listening on 127.0.0.1:1080"), 0);
    expect(&r, "READY=1\nSTATUS=listening on 127.0.0.1:1080");
    assert_int_equal(vx_sdnotify_status("%d peers,\n%s", 3, "ok"), 0);
    expect(&r, "STATUS=3 peers, ok");
    assert_int_equal(vx_sdnotify_stopping(), 0);
    expect(&r, "STOPPING=1");
    assert_int_equal(vx_sdnotify_watchdog_ping(), 0);
    expect(&r, "WATCHDOG=1");

    uint64_t before = vx_time_mono_ns() / 1000;
    assert_int_equal(vx_sdnotify_reloading(), 0);
    uint64_t after = vx_time_mono_ns() / 1000;
    ssize_t n = recv(r.fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    unsigned long long usec;
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
    assert_true(usec >= before && usec <= after);
    expect_nothing(&r);
    rx_close(&r);
}

static void test_path_socket(void **state)
{
    (void)state;
    messages(0);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    messages(1);
}

static void test_unset_and_bad(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(vx_sdnotify_ready("x"), 0);
    assert_int_equal(vx_sdnotify_stopping(), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(vx_sdnotify_ready(NULL), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(vx_sdnotify_ready(NULL), VX_ERR_INVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(vx_sdnotify_ready(NULL), VX_ERR_INVAL);
    setenv("NOTIFY_SOCKET", "/nonexistent/vx6/notify", 1);
    assert_int_equal(vx_sdnotify_ready(NULL), VX_ERR_SYS);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_env(void **state)
{
    char pid[32];
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    (void)state;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(vx_sdnotify_watchdog_usec(), 0);
    assert_null(vx_sdnotify_watchdog_start(loop));
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(vx_sdnotify_watchdog_usec(), 30000000);
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
    assert_int_equal(vx_sdnotify_watchdog_usec(), 0);
    assert_null(vx_sdnotify_watchdog_start(loop));
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(vx_sdnotify_watchdog_usec(), 30000000);
    setenv("WATCHDOG_USEC", "12x", 1);
    assert_int_equal(vx_sdnotify_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "-5", 1);
    assert_int_equal(vx_sdnotify_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "0", 1);
    assert_int_equal(vx_sdnotify_watchdog_usec(), 0);

    /* a running watchdog alone does not keep ev_run() going */
    setenv("WATCHDOG_USEC", "30000000", 1);
    struct vx_sdnotify_watchdog *wd = vx_sdnotify_watchdog_start(loop);
    assert_non_null(wd);
    uint64_t t0 = vx_time_mono_ms();
    ev_run(loop, 0);
    assert_true(vx_time_mono_ms() - t0 < 1000);
    vx_sdnotify_watchdog_stop(wd);
    vx_sdnotify_watchdog_stop(NULL);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ev_loop_destroy(loop);
}

struct cadence {
    struct rx r;
    ev_io io;
    ev_timer stop;
    double t[32];
    int n;
};

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct cadence *c = w->data;
    char buf[64];
    ssize_t n = recv(c->r.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    (void)loop;
    (void)revents;
    if (n <= 0)
        return;
    buf[n] = '\0';
    assert_string_equal(buf, "WATCHDOG=1");
    if (c->n < 32)
        c->t[c->n++] = (double)vx_time_mono_ns() / 1e9;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void test_watchdog_cadence(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct cadence c = {0};
    char pid[32];
    (void)state;

    rx_open(&c.r, 1);
    setenv("WATCHDOG_USEC", "200000", 1); /* ping every 100 ms */
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ev_io_init(&c.io, rx_cb, c.r.fd, EV_READ);
    c.io.data = &c;
    ev_io_start(loop, &c.io);
    ev_timer_init(&c.stop, stop_cb, 0.55, 0.);
    ev_timer_start(loop, &c.stop);
    double t0 = (double)vx_time_mono_ns() / 1e9;
    struct vx_sdnotify_watchdog *wd = vx_sdnotify_watchdog_start(loop);
    assert_non_null(wd);
    ev_run(loop, 0);
    vx_sdnotify_watchdog_stop(wd);

    /* 5 pings, at about 0.1, 0.2, ... 0.5 s */
    if (c.n < 4 || c.n > 5)
        fail_msg("%d watchdog pings in 0.55 s, expected 5", c.n);
    if (c.t[0] - t0 < 0.08 || c.t[0] - t0 > 0.16)
        fail_msg("first ping after %.3f s, expected 0.1", c.t[0] - t0);
    for (int i = 1; i < c.n; i++) {
        double d = c.t[i] - c.t[i - 1];
        if (d < 0.07 || d > 0.14)
            fail_msg("ping %d after %.3f s, expected 0.1", i, d);
    }
    ev_io_stop(loop, &c.io);
    rx_close(&c.r);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_path_socket),      cmocka_unit_test(test_abstract_socket),
            cmocka_unit_test(test_unset_and_bad),    cmocka_unit_test(test_watchdog_env),
            cmocka_unit_test(test_watchdog_cadence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
