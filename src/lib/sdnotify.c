/* sdnotify.c — sd_notify(3) datagrams and the watchdog timer. */
#include "lib/sdnotify.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"

struct vx_sdnotify_watchdog {
    struct ev_loop *loop;
    ev_timer timer;
};

int vx_sdnotify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t plen;
    socklen_t alen;
    int fd, rc = 0;

    if (!path || !*path)
        return 0;
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen >= sizeof(sun.sun_path))
        return VX_ERR_INVAL;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0'; /* abstract: no trailing NUL in the length */
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    } else {
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, alen) < 0)
        rc = VX_ERR_SYS;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int vx_sdnotify_ready(const char *status)
{
    char msg[512];
    if (!status)
        return vx_sdnotify("READY=1");
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
    return vx_sdnotify(msg);
}

int vx_sdnotify_status(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    memcpy(msg, "STATUS=", 7);
    va_start(ap, fmt);
    vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
    va_end(ap);
    /* STATUS is one line */
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return vx_sdnotify(msg);
}

int vx_sdnotify_stopping(void)
{
    return vx_sdnotify("STOPPING=1");
}

int vx_sdnotify_reloading(void)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, vx_time_mono_ns() / 1000u);
    return vx_sdnotify(msg);
}

int vx_sdnotify_watchdog_ping(void)
{
    return vx_sdnotify("WATCHDOG=1");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

uint64_t vx_sdnotify_watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    uint64_t usec, p;

    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
        return 0;
    if (pid && *pid && (parse_u64(pid, &p) < 0 || p != (uint64_t)getpid()))
        return 0;
    return usec;
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    int rc = vx_sdnotify_watchdog_ping();
    if (rc < 0)
        log_warn_rl(LD_GENERAL, "systemd watchdog notification failed: %s%s%s", vx_strerror(rc),
                    rc == VX_ERR_SYS ? ": " : "", rc == VX_ERR_SYS ? strerror(errno) : "");
}

struct vx_sdnotify_watchdog *vx_sdnotify_watchdog_start(struct ev_loop *loop)
{
    uint64_t usec = vx_sdnotify_watchdog_usec();
    struct vx_sdnotify_watchdog *wd;
    double half;

    if (usec == 0)
        return NULL;
    wd = calloc(1, sizeof(*wd));
    if (!wd)
        abort();
    half = (double)usec / 2e6;
    wd->loop = loop;
    ev_timer_init(&wd->timer, watchdog_cb, half, half);
    ev_timer_start(loop, &wd->timer);
    ev_unref(loop); /* the watchdog alone does not keep the loop running */
    log_info(LD_GENERAL, "systemd watchdog: pinging every %.3f s", half);
    return wd;
}

void vx_sdnotify_watchdog_stop(struct vx_sdnotify_watchdog *wd)
{
    if (!wd)
        return;
    ev_ref(wd->loop);
    ev_timer_stop(wd->loop, &wd->timer);
    free(wd);
}
