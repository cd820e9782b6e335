/* vx6-tcpblast — a fast TCP source and a timing sink for benchmarks, so the
 * load generator costs little next to what it measures.
 *
 *   vx6-tcpblast serve PORT MBYTES   listen on 127.0.0.1:PORT; send MBYTES MiB
 *                                    of zeros to every client, then close
 *   vx6-tcpblast get PORT MBYTES     connect to 127.0.0.1:PORT, read to EOF,
 *                                    check MBYTES MiB arrived, print
 *                                    "<MB/s> <first-byte ms>"
 *
 * serve handles one client at a time (the bench runs them one by one).
 * Exit status 1 on any error or a short transfer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (1u << 20)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static int serve(int port, unsigned long long total)
{
    static unsigned char buf[BUFSZ];
    struct sockaddr_in sa = loopback(port);
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
        perror("vx6-tcpblast: listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        unsigned long long sent = 0;

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            perror("vx6-tcpblast: accept");
            return 1;
        }
        while (sent < total) {
            size_t n = total - sent < BUFSZ ? (size_t)(total - sent) : BUFSZ;
            ssize_t w = write(fd, buf, n);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* the client went away: next one */
            sent += (unsigned long long)w;
        }
        close(fd);
    }
}

static int get(int port, unsigned long long total)
{
    static unsigned char buf[BUFSZ];
    struct sockaddr_in sa = loopback(port);
    unsigned long long got = 0;
    double t0, first = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    t0 = now_s();
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("vx6-tcpblast: connect");
        return 1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("vx6-tcpblast: read");
            return 1;
        }
        if (n == 0)
            break;
        if (first < 0)
            first = now_s() - t0;
        got += (unsigned long long)n;
    }
    double dt = now_s() - t0;
    close(fd);
    if (got != total) {
        fprintf(stderr, "vx6-tcpblast: got %llu of %llu bytes\n", got, total);
        return 1;
    }
    printf("%.1f %.2f\n", (double)got / dt / 1e6, first * 1000);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vx6-tcpblast serve|get PORT MBYTES\n");
        return 2;
    }
    int port = atoi(argv[2]);
    unsigned long long total = strtoull(argv[3], NULL, 10) << 20;
    if (port <= 0 || port > 65535 || total == 0) {
        fprintf(stderr, "vx6-tcpblast: bad port or size\n");
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(port, total);
    if (strcmp(argv[1], "get") == 0)
        return get(port, total);
    fprintf(stderr, "vx6-tcpblast: unknown mode %s\n", argv[1]);
    return 2;
}
