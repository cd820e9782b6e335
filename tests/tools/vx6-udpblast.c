/* vx6-udpblast — a fast UDP sender and a discarding receiver for benchmarks
 * and flood tests.
 *
 *   vx6-udpblast send ADDR PORT SECONDS [SIZE] [--pps N] [--dht]
 *   vx6-udpblast sink PORT SECONDS
 *
 * send: sendmmsg() SIZE-byte datagrams (default 64) for SECONDS, or until
 * SIGINT/SIGTERM.  The payload is junk ('V' bytes: the QUIC fixed bit is
 * set), or with --dht a DHT PING header (version 1, type 1, a fresh 8-byte
 * transaction ID per datagram, a 32-byte sender ID) padded to SIZE, at least
 * 42 bytes.  --pps N paces the sender to N datagrams per second (default: as
 * fast as it can).  "sending" goes to stderr once the first batch is out.
 * Each prints "<packets> <seconds> <pps>" on stdout when done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH   64
#define DHT_HDR 42

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until the monotonic clock reads t (seconds); a signal cuts it short. */
static void sleep_until(double t)
{
    struct timespec ts = {.tv_sec = (time_t)t};

    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

struct send_opts {
    size_t size;
    double pps; /* 0: unpaced */
    int dht;
};

static int do_send(const char *addr, int port, double secs, const struct send_opts *o)
{
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    static unsigned char bufs[BATCH][1500];
    unsigned long long sent = 0, txid = 0;
    double t0, t, next;
    int fd, said = 0;

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
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
        memset(bufs[i], 'V', sizeof(bufs[i]));
        if (o->dht) {
            bufs[i][0] = 0x01; /* DHT version */
            bufs[i][1] = 0x01; /* PING */
            for (int k = 0; k < 32; k++)
                bufs[i][10 + k] = (unsigned char)(0x5a ^ k);
        }
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = o->size;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    t0 = now_s();
    next = t0;
    do {
        int n;

        if (o->dht)
            for (int i = 0; i < BATCH; i++, txid++)
                memcpy(bufs[i] + 2, &txid, 8);
        n = sendmmsg(fd, msgs, BATCH, 0);
        if (n > 0) {
            sent += (unsigned)n;
            if (!said) {
                fprintf(stderr, "sending\n");
                said = 1;
            }
        } else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED &&
                   errno != EINTR)
            goto err;
        if (o->pps > 0) {
            next += (n > 0 ? n : BATCH) / o->pps;
            sleep_until(next);
        }
        t = now_s();
    } while (t - t0 < secs && !stop);
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
    if (argc >= 5 && strcmp(argv[1], "send") == 0) {
        struct send_opts o = {.size = 64};
        int i = 5;

        if (i < argc && argv[i][0] != '-')
            o.size = (size_t)atoi(argv[i++]) % 1400 + 1;
        for (; i < argc; i++) {
            if (strcmp(argv[i], "--dht") == 0)
                o.dht = 1;
            else if (strcmp(argv[i], "--pps") == 0 && i + 1 < argc && atof(argv[i + 1]) > 0)
                o.pps = atof(argv[++i]);
            else
                goto usage;
        }
        if (o.dht && o.size < DHT_HDR)
            o.size = DHT_HDR;
        return do_send(argv[2], atoi(argv[3]), atof(argv[4]), &o);
    }
    if (argc == 4 && strcmp(argv[1], "sink") == 0)
        return do_sink(atoi(argv[2]), atof(argv[3]));
usage:
    fprintf(stderr, "usage: vx6-udpblast send ADDR PORT SECONDS [SIZE] [--pps N] [--dht]\n"
                    "       vx6-udpblast sink PORT SECONDS\n");
    return 2;
}
