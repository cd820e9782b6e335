/* vx6-udpblast — a fast UDP sender and a discarding receiver for benchmarks.
 *
 *   vx6-udpblast send ADDR PORT SECONDS [SIZE]  sendmmsg() junk for SECONDS
 *   vx6-udpblast sink PORT SECONDS              recvmmsg() and discard
 *
 * Each prints "<packets> <seconds> <pps>" on stdout when done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_send(const char *addr, int port, double secs, size_t size)
{
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct mmsghdr msgs[BATCH];
    struct iovec iov;
    static unsigned char junk[1500];
    unsigned long long sent = 0;
    double t0, t;
    int fd;

    memset(junk, 'V', sizeof(junk));
    if (inet_pton(AF_INET6, addr, &sa6.sin6_addr) == 1) {
        fd = socket(AF_INET6, SOCK_DGRAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa6, sizeof(sa6)) < 0)
            goto err;
    } else if (inet_pton(AF_INET, addr, &sa4.sin_addr) == 1) {
        fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa4, sizeof(sa4)) < 0)
            goto err;
    } else {
        fprintf(stderr, "vx6-udpblast: bad address %s\n", addr);
        return 2;
    }
    iov.iov_base = junk;
    iov.iov_len = size;
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = now_s();
    do {
        int n = sendmmsg(fd, msgs, BATCH, 0);

        if (n > 0)
            sent += (unsigned)n;
        else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
            goto err;
        t = now_s();
    } while (t - t0 < secs);
    printf("%llu %.3f %.0f\n", sent, t - t0, (double)sent / (t - t0));
    close(fd);
    return 0;
err:
    perror("vx6-udpblast send");
    return 1;
}

static int do_sink(int port, double secs)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    static unsigned char bufs[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct timeval tv = {0, 100000};
    unsigned long long got = 0;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0, rcvbuf = 4 << 20;
    double t0, t;

    if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("vx6-udpblast sink");
        return 1;
    }
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = sizeof(bufs[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = now_s();
    do {
        int n = recvmmsg(fd, msgs, BATCH, 0, NULL);

        if (n > 0)
            got += (unsigned)n;
        t = now_s();
    } while (t - t0 < secs);
    printf("%llu %.3f %.0f\n", got, t - t0, (double)got / (t - t0));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "send") == 0)
        return do_send(argv[2], atoi(argv[3]), atof(argv[4]),
                       argc > 5 ? (size_t)atoi(argv[5]) % 1400 + 1 : 64);
    if (argc == 4 && strcmp(argv[1], "sink") == 0)
        return do_sink(atoi(argv[2]), atof(argv[3]));
    fprintf(stderr, "usage: vx6-udpblast send ADDR PORT SECONDS [SIZE]\n"
                    "       vx6-udpblast sink PORT SECONDS\n");
    return 2;
}
