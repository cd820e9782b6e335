/* vx6-nc.c — ssh ProxyCommand helper: stdin/stdout <-> a stream to HOST:PORT
 * through the local vx6d's SOCKS5 port.
 *
 *   ssh -o ProxyCommand='vx6-nc %h %p' alice.ssh.vx6
 *
 * SOCKS5 CONNECT with ATYP=DOMAIN (the name is resolved by vx6d, never
 * locally), then a relay with correct half-close: stdin EOF -> shutdown(SHUT_WR)
 * on the socket; socket EOF -> stdout closed; exit when both directions are
 * done.  poll(2) only; the socket is non-blocking so that a stalled direction
 * never blocks the other.  --route/--hops go as the RFC 1929 username
 * ("route=relay;hops=3"), which vx6d reads as per-request path options. */
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/vxtime.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_SOCKS      "127.0.0.1:1080"
#define CONNECT_TIMEOUT_MS 5000 /* to the local SOCKS port */
#define SOCKS_TIMEOUT_S    60   /* default: for vx6d to build the tunnel and answer */
#define RELAY_BUF          65536

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

static const char *prog = "vx6-nc";
static unsigned socks_timeout_s = SOCKS_TIMEOUT_S;
/* Per-request path options for vx6d ("route=relay;hops=3"), sent as the
 * SOCKS5 username (RFC 1929); empty: no authentication offered. */
static char path_opts[64];

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [-s SOCKSADDR] [-w SECONDS] [-r ROUTE] [--hops N] HOST PORT\n"
            "Connect stdin/stdout to HOST:PORT through vx6d's SOCKS5 port (for ssh's\n"
            "ProxyCommand: ssh -o ProxyCommand='vx6-nc %%h %%p' alice.ssh.vx6).\n"
            "\n"
            "  -s, --socks ADDR  vx6d's SOCKS5 address (default $VX6_SOCKS, else %s)\n"
            "  -w, --wait SECS   give up if the tunnel is not up in SECS (default %d)\n"
            "  -r, --route ROUTE direct, relay or auto (default: vx6d's choice, auto)\n"
            "      --hops N      hops of a relay circuit, the destination included (1-8)\n"
            "  -h, --help        show this help\n"
            "      --version     show the version\n",
            prog, DEFAULT_SOCKS, SOCKS_TIMEOUT_S);
}

/* Message for a SOCKS5 reply code (RFC 1928 and Tor proposal 304): the
 * text is pre + "HOST" (or "HOST:PORT") + post. */
struct reply_msg {
    uint8_t code;
    bool with_port;
    const char *pre, *post;
};

static const struct reply_msg reply_msgs[] = {
        {0x01, true, "", ": general failure in vx6d"},
        {0x02, true, "connection to ", " not allowed (not a .vx6 name, or refused by policy)"},
        {0x03, true, "", ": network unreachable"},
        {0x04, true, "", ": host unreachable (no path to the node)"},
        {0x05, true, "", ": connection refused (is the service running?)"},
        {0x06, true, "", ": timed out"},
        {0x07, true, "", ": command not supported by the SOCKS server"},
        {0x08, true, "", ": address type not supported by the SOCKS server"},
        {0xf0, false, "no record for ", " (name not found)"},
        {0xf1, false, "the record for ", " is invalid"},
        {0xf2, false, "introduction to ", " failed"},
        {0xf3, false, "rendezvous with ", " failed"},
        {0xf4, false, "", " requires client authorization"},
        {0xf5, false, "client authorization for ", " was refused (wrong credentials)"},
        {0xf6, false, "bad address: ", ""},
        {0xf7, false, "introduction to ", " timed out"},
};

static void print_reply_error(const char *host, uint16_t port, uint8_t rep)
{
    for (size_t i = 0; i < sizeof(reply_msgs) / sizeof(reply_msgs[0]); i++) {
        const struct reply_msg *m = &reply_msgs[i];
        if (m->code != rep)
            continue;
        if (m->with_port)
            fprintf(stderr, "%s: %s%s:%u%s (SOCKS5 reply 0x%02X)\n", prog, m->pre, host,
                    (unsigned)port, m->post, rep);
        else
            fprintf(stderr, "%s: %s%s%s (SOCKS5 reply 0x%02X)\n", prog, m->pre, host, m->post, rep);
        return;
    }
    fprintf(stderr, "%s: %s:%u: unknown SOCKS5 error (SOCKS5 reply 0x%02X)\n", prog, host,
            (unsigned)port, rep);
}

/* Wait for fd to be ready; 0, or -1 with errno (ETIMEDOUT). */
static int wait_ready(int fd, short ev, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        uint64_t now = vx_time_mono_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Read exactly n bytes from the non-blocking socket before deadline.
 * 0; -1 with errno; 1 on EOF. */
static int read_exact(int fd, uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (wait_ready(fd, POLLIN, deadline) < 0)
            return -1;
    }
    return 0;
}

static int write_all_sock(int fd, const uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return -1;
        if (wait_ready(fd, POLLOUT, deadline) < 0)
            return -1;
    }
    return 0;
}

static int connect_socks(const char *addr_text)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why = NULL;
    int fd, err = 0;
    socklen_t elen = sizeof(err);

    if (vx_addr_parse_ex(addr_text, 0, &ss, &len, &why) < 0) {
        fprintf(stderr, "%s: bad SOCKS address '%s': %s\n", prog, addr_text,
                why ? why : "malformed");
        return -2;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        if (wait_ready(fd, POLLOUT, vx_time_mono_ms() + CONNECT_TIMEOUT_MS) < 0)
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            goto fail;
        if (err) {
            errno = err;
            goto fail;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
fail:
    err = errno;
    fprintf(stderr, "%s: cannot reach vx6d's SOCKS port at %s: %s (is vx6d running?)\n", prog,
            addr_text, strerror(err));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* SOCKS5 greeting and CONNECT.  0 or -1 after printing why. */
static int socks_connect(int fd, const char *socks, const char *host, uint16_t port)
{
    uint64_t deadline = vx_time_mono_ms() + (uint64_t)socks_timeout_s * 1000;
    uint8_t req[7 + 255], rep[4 + 256 + 2];
    size_t hl = strlen(host), n = 0, skip;
    int rc;

    /* version 5, one method: no auth, or username/password carrying the
     * path options */
    uint8_t method = path_opts[0] ? 2 : 0, hello[] = {5, 1, method};
    if (write_all_sock(fd, hello, sizeof(hello), deadline) < 0)
        goto io_err;
    if ((rc = read_exact(fd, rep, 2, deadline)) != 0)
        goto rc_err;
    if (rep[0] != 5) {
        fprintf(stderr, "%s: %s does not speak SOCKS5 (is it vx6d's SOCKS port?)\n", prog, socks);
        return -1;
    }
    if (rep[1] != method && method == 2) {
        fprintf(stderr, "%s: the SOCKS server at %s does not take route options (%s)\n", prog,
                socks, rep[1] == 0xff ? "no username/password method" : "unexpected method");
        return -1;
    }
    if (rep[1] != method) {
        fprintf(stderr, "%s: the SOCKS server at %s requires authentication%s\n", prog, socks,
                rep[1] == 0xff ? " (no acceptable method)" : "");
        return -1;
    }
    if (method == 2) { /* RFC 1929: the options as username, a dummy password */
        size_t ul = strlen(path_opts);
        req[n++] = 1;
        req[n++] = (uint8_t)ul;
        memcpy(req + n, path_opts, ul);
        n += ul;
        req[n++] = 1;
        req[n++] = '-';
        if (write_all_sock(fd, req, n, deadline) < 0)
            goto io_err;
        if ((rc = read_exact(fd, rep, 2, deadline)) != 0)
            goto rc_err;
        if (rep[1] != 0) {
            fprintf(stderr,
                    "%s: the SOCKS server at %s refused the route options '%s' (socks_auth "
                    "set?)\n",
                    prog, socks, path_opts);
            return -1;
        }
        n = 0;
    }
    req[n++] = 5;
    req[n++] = 1; /* CONNECT */
    req[n++] = 0;
    req[n++] = 3; /* ATYP DOMAIN */
    req[n++] = (uint8_t)hl;
    memcpy(req + n, host, hl);
    n += hl;
    req[n++] = (uint8_t)(port >> 8);
    req[n++] = (uint8_t)port;
    if (write_all_sock(fd, req, n, deadline) < 0)
        goto io_err;
    if ((rc = read_exact(fd, rep, 4, deadline)) != 0)
        goto rc_err;
    if (rep[0] != 5) {
        fprintf(stderr, "%s: malformed SOCKS5 reply from %s\n", prog, socks);
        return -1;
    }
    if (rep[1] != 0) {
        print_reply_error(host, port, rep[1]);
        return -1;
    }
    /* skip BND.ADDR and BND.PORT */
    switch (rep[3]) {
    case 1:
        skip = 4 + 2;
        break;
    case 4:
        skip = 16 + 2;
        break;
    case 3:
        if ((rc = read_exact(fd, rep, 1, deadline)) != 0)
            goto rc_err;
        skip = (size_t)rep[0] + 2;
        break;
    default:
        fprintf(stderr, "%s: malformed SOCKS5 reply from %s (address type %u)\n", prog, socks,
                rep[3]);
        return -1;
    }
    if ((rc = read_exact(fd, rep, skip, deadline)) != 0)
        goto rc_err;
    return 0;
rc_err:
    if (rc == 1) {
        fprintf(stderr, "%s: %s closed the connection during the SOCKS5 handshake for %s:%u\n",
                prog, socks, host, (unsigned)port);
        return -1;
    }
io_err:
    if (errno == ETIMEDOUT)
        fprintf(stderr, "%s: %s:%u: no answer from vx6d within %u s\n", prog, host, (unsigned)port,
                socks_timeout_s);
    else
        fprintf(stderr, "%s: SOCKS5 handshake with %s failed: %s\n", prog, socks, strerror(errno));
    return -1;
}

/* Blocking write to stdout.  0, or -1 (the reader went away). */
static int write_stdout(const uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno == EINTR)
            continue;
        else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
            poll(&p, 1, -1);
        } else
            return -1;
    }
    return 0;
}

/* The relay.  Returns an exit code. */
static int relay(int fd)
{
    static uint8_t up[RELAY_BUF], down[RELAY_BUF];
    size_t up_len = 0, up_off = 0;
    bool in_open = true, up_done = false, down_done = false;

    while (!(up_done && down_done)) {
        struct pollfd p[2];
        int np = 0, in_i = -1, s_i;

        if (in_open && up_len == 0) {
            p[np] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
            in_i = np++;
        }
        s_i = np;
        p[np] = (struct pollfd){.fd = fd, .events = 0};
        if (!down_done)
            p[np].events |= POLLIN;
        if (up_len > 0)
            p[np].events |= POLLOUT;
        np++;
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
            return EXIT_FAIL;
        }
        if (in_i >= 0 && p[in_i].revents) {
            ssize_t r = read(STDIN_FILENO, up, sizeof(up));
            if (r > 0) {
                up_len = (size_t)r;
                up_off = 0;
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                in_open = false;
            }
        }
        if (up_len > 0) { /* non-blocking: EAGAIN just waits for POLLOUT */
            ssize_t w = send(fd, up + up_off, up_len - up_off, MSG_NOSIGNAL);
            if (w > 0) {
                up_off += (size_t)w;
                if (up_off == up_len)
                    up_len = up_off = 0;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                if (errno == EPIPE || errno == ECONNRESET) {
                    /* the far side closed: nothing more can go up */
                    up_len = up_off = 0;
                    in_open = false;
                    up_done = true;
                } else {
                    fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
                    return EXIT_FAIL;
                }
            }
        }
        if (!in_open && up_len == 0 && !up_done) {
            shutdown(fd, SHUT_WR);
            up_done = true;
        }
        if (!down_done && (p[s_i].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = recv(fd, down, sizeof(down), 0);
            if (r > 0) {
                if (write_stdout(down, (size_t)r) < 0) {
                    /* nobody reads our output any more */
                    down_done = true;
                    shutdown(fd, SHUT_RD);
                    close(STDOUT_FILENO);
                }
            } else if (r == 0) {
                down_done = true;
                close(STDOUT_FILENO);
            } else if (errno != EAGAIN && errno != EINTR) {
                if (errno == ECONNRESET) {
                    fprintf(stderr, "%s: connection reset\n", prog);
                    return EXIT_FAIL;
                }
                fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
                return EXIT_FAIL;
            }
        }
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    enum { OPT_VERSION = 256, OPT_HOPS };
    static const struct option opts[] = {
            {"socks", required_argument, NULL, 's'},
            {"wait", required_argument, NULL, 'w'},
            {"route", required_argument, NULL, 'r'},
            {"hops", required_argument, NULL, OPT_HOPS},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, OPT_VERSION},
            {NULL, 0, NULL, 0},
    };
    const char *socks = getenv("VX6_SOCKS"), *route = NULL;
    char *end;
    unsigned long port, hops = 0;
    int c, fd, ex;

    if (!socks || !*socks)
        socks = DEFAULT_SOCKS;
    while ((c = getopt_long(argc, argv, "s:w:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            socks = optarg;
            break;
        case 'w':
            errno = 0;
            socks_timeout_s = (unsigned)strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || socks_timeout_s == 0 || socks_timeout_s > 3600) {
                fprintf(stderr, "%s: bad -w value '%s' (1-3600 seconds)\n", prog, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            if (strcmp(optarg, "direct") && strcmp(optarg, "relay") && strcmp(optarg, "auto")) {
                fprintf(stderr, "%s: bad route '%s' (direct, relay or auto)\n", prog, optarg);
                return EXIT_USAGE;
            }
            route = optarg;
            break;
        case OPT_HOPS:
            errno = 0;
            hops = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || hops < 1 || hops > 8) {
                fprintf(stderr, "%s: bad --hops value '%s' (1-8)\n", prog, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case OPT_VERSION:
            printf("vx6-nc %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *host = argv[optind];
    errno = 0;
    port = strtoul(argv[optind + 1], &end, 10);
    if (errno || *end || end == argv[optind + 1] || port == 0 || port > 65535) {
        fprintf(stderr, "%s: bad port '%s' (1-65535)\n", prog, argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (strlen(host) == 0 || strlen(host) > 255) {
        fprintf(stderr, "%s: bad host name (1-255 characters)\n", prog);
        return EXIT_USAGE;
    }
    if (route && hops)
        snprintf(path_opts, sizeof(path_opts), "route=%s;hops=%lu", route, hops);
    else if (route)
        snprintf(path_opts, sizeof(path_opts), "route=%s", route);
    else if (hops)
        snprintf(path_opts, sizeof(path_opts), "hops=%lu", hops);
    signal(SIGPIPE, SIG_IGN);
    fd = connect_socks(socks);
    if (fd < 0)
        return fd == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (socks_connect(fd, socks, host, (uint16_t)port) < 0) {
        close(fd);
        return EXIT_FAIL;
    }
    ex = relay(fd);
    close(fd);
    return ex;
}
