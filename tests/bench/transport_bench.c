/* transport_bench.c — one stream over loopback through each carrier: QUIC
 * and (when built in) TCP + Noise, side by side.  Both ends run on one libev
 * loop in this process, so the numbers include both ends' CPU.
 *   transport_bench [MiB (256)] [rounds of first-byte latency (20)]
 * Prints cold (handshake included) and warm (existing session) first-byte
 * latency and bulk throughput per carrier, then TCP/QUIC ratios. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/quic.h"
#include "transport/tcp.h"

struct end {
    int fd;
    ev_io io;
    uint64_t todo, done;
    uint64_t first_ns;
    int eof;
};

static struct ev_loop *loop;
static uint64_t bulk_bytes;
static int mode_bulk;
static struct end cli_end, srv_end;
static uint8_t buf[1 << 16];

static void end_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct end *e = w->data;
    ssize_t n;

    (void)l;
    if (revents & EV_WRITE) {
        size_t k = e->todo - e->done < sizeof(buf) ? e->todo - e->done : sizeof(buf);
        n = write(e->fd, buf, k);
        if (n > 0)
            e->done += (uint64_t)n;
        if (e->done == e->todo) {
            shutdown(e->fd, SHUT_WR);
            ev_io_stop(loop, w);
            ev_io_set(w, e->fd, EV_READ);
            ev_io_start(loop, w);
        }
        return;
    }
    n = read(e->fd, buf, sizeof(buf));
    if (n > 0) {
        if (!e->first_ns)
            e->first_ns = vx_time_mono_ns();
        e->done += (uint64_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        e->eof = 1;
        ev_io_stop(loop, w);
    }
}

static void end_start(struct end *e, int fd, uint64_t send)
{
    memset(e, 0, sizeof(*e));
    e->fd = fd;
    e->todo = send;
    ev_io_init(&e->io, end_cb, fd, send ? EV_WRITE : EV_READ);
    e->io.data = e;
    if (!send)
        shutdown(fd, SHUT_WR); /* nothing to say: half-close at once */
    ev_io_start(loop, &e->io);
}

static void end_stop(struct end *e)
{
    ev_io_stop(loop, &e->io);
    close(e->fd);
}

static int splice_pair(struct vx_stream *s)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) < 0)
        abort();
    if (vx_stream_splice(s, sp[1]) < 0)
        abort();
    return sp[0];
}

static void on_close(struct vx_stream *s, int err, void *arg)
{
    (void)s;
    (void)arg;
    if (err)
        fprintf(stderr, "stream closed: %s\n", vx_strerror(err));
}

static void on_open(struct vx_stream *s, int err, void *arg)
{
    (void)arg;
    if (err) {
        fprintf(stderr, "open failed: %s\n", vx_strerror(err));
        exit(1);
    }
    end_start(&cli_end, splice_pair(s), mode_bulk ? bulk_bytes : 0);
}

static const struct vx_stream_cbs cbs = {on_open, on_close};

static void on_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    (void)tgt;
    (void)arg;
    vx_stream_accept(s, 0, &cbs, NULL);
    /* latency mode: the acceptor speaks first with one byte */
    end_start(&srv_end, splice_pair(s), mode_bulk ? 0 : 1);
}

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
}

static void run_until(int (*cond)(void))
{
    ev_timer t;
    uint64_t t0 = vx_time_mono_ms();
    ev_timer_init(&t, tick, 0.01, 0.01);
    ev_timer_start(loop, &t);
    while (!cond()) {
        if (vx_time_mono_ms() - t0 > 120000) {
            fprintf(stderr, "timeout\n");
            exit(1);
        }
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &t);
}

static int got_first(void)
{
    return cli_end.first_ns != 0 && cli_end.eof && srv_end.eof;
}

static int bulk_done(void)
{
    return srv_end.done == bulk_bytes && srv_end.eof && cli_end.eof;
}

struct result {
    double cold_us, warm_us, mbps;
};

static void bench(const char *name, struct vx_transport *a, struct vx_transport *b,
                  const struct sockaddr *addr, socklen_t alen, const uint8_t *peer, int rounds,
                  struct result *r)
{
    struct vx_stream_target tgt;
    double warm = 0;
    uint64_t t0;

    memset(&tgt, 0, sizeof(tgt));
    tgt.kind = VX_TARGET_SERVICE;
    tgt.port = 1;
    strcpy(tgt.name, "bench");
    vx_transport_set_accept(a, on_accept, NULL);
    mode_bulk = 0;
    for (int i = 0; i <= rounds; i++) {
        int err;
        memset(&cli_end, 0, sizeof(cli_end));
        memset(&srv_end, 0, sizeof(srv_end));
        t0 = vx_time_mono_ns();
        if (!vx_transport_open(b, peer, addr, alen, &tgt, &cbs, NULL, &err))
            abort();
        run_until(got_first);
        if (i == 0)
            r->cold_us = (double)(cli_end.first_ns - t0) / 1e3;
        else
            warm += (double)(cli_end.first_ns - t0) / 1e3;
        end_stop(&cli_end);
        end_stop(&srv_end);
    }
    r->warm_us = warm / rounds;
    mode_bulk = 1;
    {
        int err;
        memset(&cli_end, 0, sizeof(cli_end));
        memset(&srv_end, 0, sizeof(srv_end));
        t0 = vx_time_mono_ns();
        if (!vx_transport_open(b, peer, addr, alen, &tgt, &cbs, NULL, &err))
            abort();
        run_until(bulk_done);
        r->mbps = (double)bulk_bytes * 8 / ((double)(vx_time_mono_ns() - t0) / 1e9) / 1e6;
        end_stop(&cli_end);
        end_stop(&srv_end);
    }
    printf("%-5s first byte: cold %8.0f us, warm %6.0f us   throughput %7.0f Mbit/s\n", name,
           r->cold_us, r->warm_us, r->mbps);
}

int main(int argc, char **argv)
{
    struct vx_identity ida, idb;
    struct vx_transport_conf conf;
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    socklen_t len;
    struct result rq, rt;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;

    bulk_bytes = (uint64_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
    if (rounds < 1)
        rounds = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    vx_log_configure("warn");
    loop = EV_DEFAULT;
    vx_identity_generate(&ida);
    vx_identity_generate(&idb);
    vx_transport_conf_defaults(&conf);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    {
        struct vx_transport *a = vx_transport_quic_new(loop, &ida, &conf);
        struct vx_transport *b = vx_transport_quic_new(loop, &idb, &conf);
        if (vx_transport_listen(a, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            vx_transport_quic_local_addr(a, &ss, &len) < 0)
            abort();
        bench("quic", a, b, (struct sockaddr *)&ss, len, ida.node_id, rounds, &rq);
        vx_transport_free(b);
        vx_transport_free(a);
    }
    {
        struct vx_transport *a = vx_transport_tcp_new(loop, &ida, &conf);
        struct vx_transport *b = vx_transport_tcp_new(loop, &idb, &conf);
        if (vx_transport_listen(a, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            vx_transport_tcp_local_addr(a, &ss, &len) < 0)
            abort();
        bench("tcp", a, b, (struct sockaddr *)&ss, len, ida.node_id, rounds, &rt);
        vx_transport_free(b);
        vx_transport_free(a);
    }
    printf("ratio tcp/quic: throughput %.2f, cold first byte %.2f, warm first byte %.2f\n",
           rt.mbps / rq.mbps, rt.cold_us / rq.cold_us, rt.warm_us / rq.warm_us);
    return 0;
}
