/* session_bench.c — one stream through a TCP + Noise session vs plain
 * loopback TCP, and memory per open stream.
 *
 *   session_bench [MiB] [idle-streams] [chacha]
 *
 * Two processes each time (sender and receiver).  The session run has one
 * transport per process; each stream is spliced to a socketpair whose other
 * end a helper thread feeds (sender) or drains (receiver), as an application
 * would.  The loopback run moves the same bytes over one TCP connection.
 * Prints "session: X MB/s, loopback: Y MB/s, ratio Z" and memory figures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "crypto/channel.h"
#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/tcp.h"

#define CHUNK (256 * 1024)

static uint64_t total_bytes;

struct pump {
    int fd;
    uint64_t n;
};

static void *writer_thread(void *arg)
{
    struct pump *p = arg;
    uint8_t *buf = malloc(CHUNK);
    memset(buf, 0x5a, CHUNK);
    uint64_t left = p->n;
    while (left > 0) {
        ssize_t w = write(p->fd, buf, left < CHUNK ? left : CHUNK);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            break;
        }
        left -= (uint64_t)w;
    }
    shutdown(p->fd, SHUT_WR);
    free(buf);
    return NULL;
}

/* Read until EOF; returns the count. */
static uint64_t drain(int fd)
{
    uint8_t *buf = malloc(CHUNK);
    uint64_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    free(buf);
    return got;
}

static void *reader_thread(void *arg)
{
    struct pump *p = arg;
    p->n = drain(p->fd);
    return NULL;
}

static struct sockaddr_in loop_addr(void)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int listen_any(struct sockaddr_in *a)
{
    socklen_t sl = sizeof(*a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    *a = loop_addr();
    if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(fd, 16) < 0)
        exit(2);
    getsockname(fd, (struct sockaddr *)a, &sl);
    return fd;
}

static double bench_loopback(void)
{
    struct sockaddr_in a;
    int lfd = listen_any(&a), done[2];
    if (pipe(done) < 0)
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(lfd, NULL, NULL);
        uint64_t got = drain(c);
        if (write(done[1], &got, sizeof(got)) < 0)
            _exit(1);
        _exit(0);
    }
    close(lfd);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        exit(2);
    uint64_t t0 = vx_time_mono_ns(), got = 0;
    struct pump p = {fd, total_bytes};
    writer_thread(&p);
    if (read(done[0], &got, sizeof(got)) != sizeof(got) || got != total_bytes)
        fprintf(stderr, "loopback: short transfer\n");
    uint64_t dt = vx_time_mono_ns() - t0;
    close(fd);
    waitpid(pid, NULL, 0);
    return (double)total_bytes / ((double)dt / 1e9) / 1e6;
}

/* ---- session ---- */

static struct ev_loop *loop;
static struct vx_identity idA, idB;
static int use_chacha;
static int done_pipe[2];
static int srv_idle_mode;
static pthread_t srv_thread;
static struct pump srv_pump;

static void srv_on_close(struct vx_stream *s, int err, void *arg)
{
}

static const struct vx_stream_cbs srv_cbs = {.on_close = srv_on_close};

static void *srv_report(void *arg)
{
    reader_thread(&srv_pump);
    if (write(done_pipe[1], &srv_pump.n, sizeof(srv_pump.n)) < 0)
        _exit(1);
    return NULL;
}

static void srv_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        vx_stream_accept(s, VX_ERR_LIMIT, NULL, NULL);
        return;
    }
    vx_stream_accept(s, 0, &srv_cbs, NULL);
    vx_stream_splice(s, sv[0]);
    if (srv_idle_mode)
        return; /* keep sv[1] open, idle */
    srv_pump.fd = sv[1];
    pthread_create(&srv_thread, NULL, srv_report, NULL);
}

static struct vx_transport *make_transport(const struct vx_identity *id)
{
    struct vx_transport_conf c;
    vx_transport_conf_defaults(&c);
    c.max_streams = 100000;
    struct vx_transport *t = vx_transport_tcp_new(loop, id, &c);
    if (use_chacha)
        vx_transport_tcp_set_aeads(t, 1u << VX_AEAD_CHACHAPOLY);
    return t;
}

static pid_t start_server(struct sockaddr_in *a, int idle)
{
    int portpipe[2];
    if (pipe(portpipe) < 0 || pipe(done_pipe) < 0)
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        loop = ev_loop_new(0);
        struct vx_transport *t = make_transport(&idB);
        struct sockaddr_in la = loop_addr();
        struct sockaddr_storage ss;
        socklen_t sl;
        srv_idle_mode = idle;
        vx_transport_listen(t, (struct sockaddr *)&la, sizeof(la));
        vx_transport_tcp_local_addr(t, &ss, &sl);
        vx_transport_set_accept(t, srv_accept, NULL);
        if (write(portpipe[1], &ss, sizeof(struct sockaddr_in)) < 0)
            _exit(1);
        ev_run(loop, 0);
        _exit(0);
    }
    if (read(portpipe[0], a, sizeof(*a)) != sizeof(*a))
        exit(2);
    close(portpipe[0]);
    close(portpipe[1]);
    return pid;
}

static int cli_opened, cli_open_err;
static uint64_t t_open_ns;
static pthread_t cli_thread;
static struct pump cli_pump;

static void cli_on_open(struct vx_stream *s, int err, void *arg)
{
    int sv[2];
    cli_opened++;
    if (err < 0) {
        cli_open_err = err;
        return;
    }
    if (arg) /* idle stream */
        return;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        exit(2);
    vx_stream_splice(s, sv[0]);
    t_open_ns = vx_time_mono_ns();
    cli_pump.fd = sv[1];
    cli_pump.n = total_bytes;
    pthread_create(&cli_thread, NULL, writer_thread, &cli_pump);
}

static void cli_on_close(struct vx_stream *s, int err, void *arg)
{
}

static const struct vx_stream_cbs cli_cbs = {.on_open = cli_on_open, .on_close = cli_on_close};

static uint64_t got_bytes;

static void done_cb(struct ev_loop *l, ev_io *w, int revents)
{
    if (read(w->fd, &got_bytes, sizeof(got_bytes)) < 0)
        got_bytes = 0;
    ev_break(l, EVBREAK_ALL);
}

static int opened_all_n;

static void idle_check_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
    if (cli_opened >= opened_all_n)
        ev_break(l, EVBREAK_ALL);
}

static double bench_session(const char **cipher)
{
    struct sockaddr_in a;
    pid_t pid = start_server(&a, 0);
    loop = ev_default_loop(0);
    struct vx_transport *t = make_transport(&idA);
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1};
    strcpy(tgt.name, "bench");
    int err;
    if (!vx_transport_open(t, idB.node_id, (struct sockaddr *)&a, sizeof(a), &tgt, &cli_cbs, NULL,
                           &err))
        exit(3);
    ev_io dw;
    ev_io_init(&dw, done_cb, done_pipe[0], EV_READ);
    ev_io_start(loop, &dw);
    ev_run(loop, 0);
    uint64_t dt = vx_time_mono_ns() - t_open_ns;
    ev_io_stop(loop, &dw);
    if (got_bytes != total_bytes)
        fprintf(stderr, "session: short transfer (%llu of %llu)\n", (unsigned long long)got_bytes,
                (unsigned long long)total_bytes);
    pthread_join(cli_thread, NULL);
    close(cli_pump.fd);
    *cipher = "?";
    vx_transport_free(t);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(done_pipe[0]);
    close(done_pipe[1]);
    return (double)total_bytes / ((double)dt / 1e9) / 1e6;
}

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static void bench_idle_streams(int n)
{
    struct sockaddr_in a;
    pid_t pid = start_server(&a, 1);
    loop = ev_default_loop(0);
    struct vx_transport *t = make_transport(&idA);
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1};
    strcpy(tgt.name, "bench");
    int err;
    ev_prepare pw;
    ev_prepare_init(&pw, idle_check_cb);
    ev_prepare_start(loop, &pw);
    /* one stream first so the session and its buffers exist */
    cli_opened = 0;
    opened_all_n = 1;
    vx_transport_open(t, idB.node_id, (struct sockaddr *)&a, sizeof(a), &tgt, &cli_cbs, &tgt, &err);
    ev_run(loop, 0);
    long r0 = rss_bytes();
    opened_all_n = n + 1;
    for (int i = 0; i < n; i++)
        if (!vx_transport_open(t, idB.node_id, (struct sockaddr *)&a, sizeof(a), &tgt, &cli_cbs,
                               &tgt, &err))
            fprintf(stderr, "open %d: %s\n", i, vx_strerror(err));
    ev_run(loop, 0);
    long r1 = rss_bytes();
    struct vx_transport_stats st;
    vx_transport_get_stats(t, &st);
    printf("idle streams: %d open (err %d), RSS +%ld bytes = %ld bytes/stream, "
           "stream_mem %llu bytes\n",
           cli_opened - 1, cli_open_err, r1 - r0, (r1 - r0) / n, (unsigned long long)st.stream_mem);
    ev_prepare_stop(loop, &pw);
    vx_transport_free(t);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
    uint8_t seed[VX_SEED_LEN];
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 2048;
    int idle = argc > 2 ? atoi(argv[2]) : 1000;
    use_chacha = argc > 3 && strcmp(argv[3], "chacha") == 0;
    struct rlimit rl = {20000, 20000};
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);
    vx_log_configure("warn");
    total_bytes = mib << 20;
    memset(seed, 0xa1, sizeof(seed));
    vx_identity_from_seed(&idA, seed);
    memset(seed, 0xb2, sizeof(seed));
    vx_identity_from_seed(&idB, seed);

    const char *cipher;
    double lo = bench_loopback();
    double se = bench_session(&cipher);
    printf("cipher: %s\n",
           use_chacha ? "chacha20-poly1305"
                      : (vx_aead_aesgcm_available() ? "aes-256-gcm" : "chacha20-poly1305"));
    printf("session: %.0f MB/s, loopback: %.0f MB/s, ratio %.2f (%llu MiB each)\n", se, lo, se / lo,
           (unsigned long long)mib);
    if (idle > 0)
        bench_idle_streams(idle);
    return 0;
}
