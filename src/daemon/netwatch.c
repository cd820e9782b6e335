/* netwatch.c — NETLINK_ROUTE address watcher with a debounce timer. */
#include "daemon/netwatch.h"

#include <errno.h>
#include <ev.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"

struct vx_netwatch {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    ev_timer debounce;
    double debounce_s;
    void (*changed)(void *arg);
    void *arg;
    unsigned long events;
};

static void debounce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_netwatch *nw = w->data;
    (void)loop;
    (void)revents;
    log_info(LD_NET, "host addresses changed");
    nw->changed(nw->arg);
}

static void readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_netwatch *nw = w->data;
    /* netlink messages are aligned; keep the buffer aligned for nlmsghdr */
    uint32_t buf[2048];
    int relevant = 0;
    (void)revents;

    for (;;) {
        ssize_t n = recv(nw->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) {
                relevant = 1; /* overrun: something changed, we lost what */
                continue;
            }
            break;
        }
        if (n == 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
                relevant = 1;
                nw->events++;
            }
        }
    }
    if (relevant) {
        ev_timer_stop(loop, &nw->debounce);
        ev_timer_set(&nw->debounce, nw->debounce_s, 0.);
        ev_timer_start(loop, &nw->debounce);
    }
}

int vx_netwatch_new(struct ev_loop *loop, unsigned debounce_ms, void (*changed)(void *arg),
                    void *arg, struct vx_netwatch **out)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
    struct vx_netwatch *nw;
    int fd;

    *out = NULL;
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return VX_ERR_SYS;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return VX_ERR_SYS;
    }
    nw = calloc(1, sizeof(*nw));
    if (!nw)
        abort();
    nw->loop = loop;
    nw->fd = fd;
    nw->changed = changed;
    nw->arg = arg;
    nw->debounce_s = (double)debounce_ms / 1000.0;
    ev_io_init(&nw->io, readable_cb, fd, EV_READ);
    nw->io.data = nw;
    ev_timer_init(&nw->debounce, debounce_cb, nw->debounce_s, 0.);
    nw->debounce.data = nw;
    ev_io_start(loop, &nw->io);
    *out = nw;
    return 0;
}

void vx_netwatch_free(struct vx_netwatch *nw)
{
    if (!nw)
        return;
    ev_io_stop(nw->loop, &nw->io);
    ev_timer_stop(nw->loop, &nw->debounce);
    close(nw->fd);
    free(nw);
}

unsigned long vx_netwatch_events(const struct vx_netwatch *nw)
{
    return nw->events;
}
