/* udp-dropper.c — see udp-dropper.h. */
#include "udp-dropper.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DROP_MAX_DGRAM 2048

struct pkt {
    struct pkt *next;
    double due;
    int upstream; /* 1: client -> server */
    size_t len;
    uint8_t data[DROP_MAX_DGRAM];
};

struct udp_dropper {
    struct ev_loop *loop;
    int front, back;
    ev_io front_io, back_io;
    ev_timer timer;
    struct sockaddr_storage front_addr, client;
    socklen_t front_len, client_len;
    double loss, delay;
    uint64_t rng;
    struct pkt *head, *tail;
    struct udp_dropper_stats st;
};

static double rnd01(struct udp_dropper *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return (double)(d->rng >> 11) / (double)(1ULL << 53);
}

static void deliver(struct udp_dropper *d, const struct pkt *p)
{
    if (p->upstream)
        (void)send(d->back, p->data, p->len, 0);
    else if (d->client_len)
        (void)sendto(d->front, p->data, p->len, 0, (struct sockaddr *)&d->client, d->client_len);
}

static void arm(struct udp_dropper *d)
{
    ev_timer_stop(d->loop, &d->timer);
    if (d->head) {
        double w = d->head->due - ev_now(d->loop);
        ev_timer_set(&d->timer, w > 0 ? w : 0, 0.);
        ev_timer_start(d->loop, &d->timer);
    }
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct udp_dropper *d = w->data;

    (void)revents;
    ev_now_update(loop);
    while (d->head && d->head->due <= ev_now(loop) + 0.0005) {
        struct pkt *p = d->head;
        d->head = p->next;
        if (!d->head)
            d->tail = NULL;
        deliver(d, p);
        free(p);
    }
    arm(d);
}

static void handle(struct udp_dropper *d, int upstream, const uint8_t *buf, size_t len)
{
    struct pkt *p;

    if (rnd01(d) < d->loss) {
        d->st.dropped++;
        return;
    }
    d->st.forwarded++;
    p = malloc(sizeof(*p));
    if (!p)
        abort();
    p->next = NULL;
    p->upstream = upstream;
    p->len = len;
    memcpy(p->data, buf, len);
    if (d->delay <= 0 && !d->head) {
        deliver(d, p);
        free(p);
        return;
    }
    ev_now_update(d->loop);
    p->due = ev_now(d->loop) + d->delay;
    if (d->tail)
        d->tail->next = p;
    else
        d->head = p;
    d->tail = p;
    if (!ev_is_active(&d->timer))
        arm(d);
}

static void front_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct udp_dropper *d = w->data;
    uint8_t buf[DROP_MAX_DGRAM];

    (void)loop;
    (void)revents;
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n =
                recvfrom(d->front, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        memcpy(&d->client, &from, fl);
        d->client_len = fl;
        handle(d, 1, buf, (size_t)n);
    }
}

static void back_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct udp_dropper *d = w->data;
    uint8_t buf[DROP_MAX_DGRAM];

    (void)loop;
    (void)revents;
    for (;;) {
        ssize_t n = recv(d->back, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0)
            return;
        handle(d, 0, buf, (size_t)n);
    }
}

struct udp_dropper *udp_dropper_new(struct ev_loop *loop, const struct sockaddr *to,
                                    socklen_t tolen)
{
    struct udp_dropper *d = calloc(1, sizeof(*d));
    struct sockaddr_storage lo;
    socklen_t lolen;
    int sz = 4 << 20;

    if (!d)
        abort();
    d->loop = loop;
    d->rng = 0x9e3779b97f4a7c15ULL;
    memset(&lo, 0, sizeof(lo));
    if (to->sa_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&lo;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        lolen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&lo;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        lolen = sizeof(*s4);
    }
    d->front = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    d->back = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->front < 0 || d->back < 0 || bind(d->front, (struct sockaddr *)&lo, lolen) < 0 ||
        connect(d->back, to, tolen) < 0) {
        int e = errno;
        if (d->front >= 0)
            close(d->front);
        if (d->back >= 0)
            close(d->back);
        free(d);
        errno = e;
        return NULL;
    }
    (void)setsockopt(d->front, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
    (void)setsockopt(d->back, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
    d->front_len = sizeof(d->front_addr);
    getsockname(d->front, (struct sockaddr *)&d->front_addr, &d->front_len);
    ev_io_init(&d->front_io, front_cb, d->front, EV_READ);
    ev_io_init(&d->back_io, back_cb, d->back, EV_READ);
    ev_init(&d->timer, timer_cb);
    d->front_io.data = d->back_io.data = d->timer.data = d;
    ev_io_start(loop, &d->front_io);
    ev_io_start(loop, &d->back_io);
    return d;
}

void udp_dropper_free(struct udp_dropper *d)
{
    if (!d)
        return;
    ev_io_stop(d->loop, &d->front_io);
    ev_io_stop(d->loop, &d->back_io);
    ev_timer_stop(d->loop, &d->timer);
    while (d->head) {
        struct pkt *p = d->head;
        d->head = p->next;
        free(p);
    }
    close(d->front);
    close(d->back);
    free(d);
}

void udp_dropper_set(struct udp_dropper *d, double loss, uint32_t delay_ms)
{
    d->loss = loss;
    d->delay = delay_ms / 1000.0;
}

void udp_dropper_addr(const struct udp_dropper *d, struct sockaddr_storage *ss, socklen_t *len)
{
    memcpy(ss, &d->front_addr, d->front_len);
    *len = d->front_len;
}

void udp_dropper_stats(const struct udp_dropper *d, struct udp_dropper_stats *st)
{
    *st = d->st;
}
