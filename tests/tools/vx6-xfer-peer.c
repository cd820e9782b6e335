/* vx6-xfer-peer — one transport per process, for the namespace tests of
 * the auto carrier and of QUIC migration.
 *
 *   vx6-xfer-peer listen CARRIER ADDR PORT
 *       accept one stream, check the pattern, answer with the byte count
 *       (8 bytes, big endian) and FIN; print "carrier=K bytes=N" and exit 0.
 *   vx6-xfer-peer dial CARRIER ADDR PORT BYTES KBPS
 *       open a stream to the listener's node at ADDR PORT, send BYTES of
 *       the pattern at about KBPS KiB/s, FIN, check the count that comes
 *       back; print "carrier=K bytes=N open_ms=T" and exit 0.  SIGUSR1 calls
 *       vx_transport_rebind() (what vx6d does on an address change).
 * CARRIER is tcp, quic or auto.  The listener's identity is fixed, so the
 * dialer knows its node ID.  Exit 1 on any failure, with a reason. */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/auto.h"
#include "transport/transport.h"

static struct ev_loop *loop;
static struct vx_transport *T;
static struct vx_stream *S;
static uint64_t total, done_tx, done_rx, t0, t_open;
static double kbps;
static int listener, failed, finished, fin_seen, reply_sent;
static uint8_t reply[8];
static size_t reply_got;
static ev_timer pace, guard;
static ev_signal usr1;

static uint8_t pat(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

static const char *kname(enum vx_transport_kind k)
{
    return k == VX_TRANSPORT_QUIC ? "quic" : k == VX_TRANSPORT_TCP ? "tcp" : "auto";
}

static void fail(const char *why, int err)
{
    fprintf(stderr, "vx6-xfer-peer: %s: %s\n", why, err ? vx_strerror(err) : "");
    failed = 1;
    ev_break(loop, EVBREAK_ALL);
}

static void push(void)
{
    static uint8_t buf[16384];
    uint64_t allowed = total;

    if (!S || done_tx >= total)
        return;
    if (kbps > 0) {
        double secs = (double)(vx_time_mono_ms() - t_open) / 1000.;
        allowed = (uint64_t)(secs * kbps * 1024.) + sizeof(buf);
        if (allowed > total)
            allowed = total;
    }
    while (done_tx < allowed) {
        size_t n = allowed - done_tx < sizeof(buf) ? (size_t)(allowed - done_tx) : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(done_tx + i);
        ssize_t w = vx_stream_write(S, buf, n);
        if (w == VX_ERR_AGAIN)
            return;
        if (w < 0) {
            fail("write", (int)w);
            return;
        }
        done_tx += (uint64_t)w;
    }
    if (done_tx == total && vx_stream_shutdown(S) < 0)
        fail("shutdown", 0);
}

static size_t on_data(struct vx_stream *s, const uint8_t *d, size_t n, void *arg)
{
    (void)s, (void)arg;
    if (!listener) {
        for (size_t i = 0; i < n && reply_got < sizeof(reply); i++)
            reply[reply_got++] = d[i];
        return n;
    }
    for (size_t i = 0; i < n; i++)
        if (d[i] != pat(done_rx + i)) {
            fail("pattern mismatch", 0);
            return n;
        }
    done_rx += n;
    return n;
}

static void on_fin(struct vx_stream *s, void *arg)
{
    (void)arg;
    fin_seen = 1;
    if (listener) {
        for (int i = 0; i < 8; i++)
            reply[i] = (uint8_t)(done_rx >> (56 - 8 * i));
        if (vx_stream_write(s, reply, 8) != 8 || vx_stream_shutdown(s) < 0)
            fail("reply", 0);
        reply_sent = 1;
    }
}

static void on_writable(struct vx_stream *s, void *arg)
{
    (void)s, (void)arg;
    push();
}

static const struct vx_stream_io io = {on_data, on_fin, on_writable};

static void on_close(struct vx_stream *s, int err, void *arg)
{
    (void)arg;
    enum vx_transport_kind k = vx_stream_carrier(s);
    S = NULL;
    if (err) {
        fail("stream closed", err);
        return;
    }
    if (listener) {
        printf("carrier=%s bytes=%llu\n", kname(k), (unsigned long long)done_rx);
    } else {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | reply[i];
        if (reply_got != 8 || n != total) {
            fail("the listener counted a different number of bytes", 0);
            return;
        }
        printf("carrier=%s bytes=%llu open_ms=%llu\n", kname(k), (unsigned long long)n,
               (unsigned long long)(t_open - t0));
    }
    fflush(stdout);
    finished = 1;
    if (listener) {
        /* Our FIN may still need a retransmission: a QUIC endpoint must stay
         * up for that (no kernel does it for us), so linger a little. */
        ev_timer_stop(loop, &guard);
        ev_timer_set(&guard, 1.0, 0);
        ev_timer_start(loop, &guard);
        return;
    }
    ev_break(loop, EVBREAK_ALL);
}

static void on_open(struct vx_stream *s, int err, void *arg)
{
    (void)arg;
    if (err) {
        S = NULL;
        fail("open", err);
        return;
    }
    t_open = vx_time_mono_ms();
    fprintf(stderr, "vx6-xfer-peer: open over %s after %llu ms\n", kname(vx_stream_carrier(s)),
            (unsigned long long)(t_open - t0));
    if (vx_stream_attach(s, &io, NULL) < 0) {
        fail("attach", 0);
        return;
    }
    push();
    if (kbps > 0)
        ev_timer_start(loop, &pace);
}

static const struct vx_stream_cbs cbs = {on_open, on_close};

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    (void)tgt, (void)arg;
    if (S) {
        vx_stream_accept(s, VX_ERR_LIMIT, NULL, NULL);
        return;
    }
    S = s;
    vx_stream_accept(s, 0, &cbs, NULL);
    if (vx_stream_attach(s, &io, NULL) < 0)
        fail("attach", 0);
}

static void pace_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)w, (void)revents;
    push();
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w, (void)revents;
    if (finished) {
        ev_break(l, EVBREAK_ALL);
        return;
    }
    fprintf(stderr, "vx6-xfer-peer: timed out (sent %llu, received %llu)\n",
            (unsigned long long)done_tx, (unsigned long long)done_rx);
    failed = 1;
    ev_break(l, EVBREAK_ALL);
}

static void usr1_cb(struct ev_loop *l, ev_signal *w, int revents)
{
    (void)l, (void)w, (void)revents;
    fprintf(stderr, "vx6-xfer-peer: rebind: %d connection(s) migrated\n", vx_transport_rebind(T));
}

static void ident(struct vx_identity *id, uint8_t fill)
{
    uint8_t seed[VX_SEED_LEN];
    memset(seed, fill, sizeof(seed));
    vx_identity_from_seed(id, seed);
}

int main(int argc, char **argv)
{
    struct vx_identity me, peer;
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
    struct sockaddr_in sa4 = {.sin_family = AF_INET};
    struct sockaddr *sa;
    socklen_t salen;
    enum vx_transport_kind kind;

    if (argc < 5 || (strcmp(argv[1], "listen") && strcmp(argv[1], "dial")) ||
        (!strcmp(argv[1], "dial") && argc < 7)) {
        fprintf(stderr, "usage: vx6-xfer-peer listen tcp|quic|auto ADDR PORT\n"
                        "       vx6-xfer-peer dial tcp|quic|auto ADDR PORT BYTES KBPS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    listener = !strcmp(argv[1], "listen");
    kind = !strcmp(argv[2], "tcp")    ? VX_TRANSPORT_TCP
           : !strcmp(argv[2], "quic") ? VX_TRANSPORT_QUIC
                                      : VX_TRANSPORT_AUTO;
    if (inet_pton(AF_INET6, argv[3], &sa6.sin6_addr) == 1) {
        sa6.sin6_port = htons((uint16_t)atoi(argv[4]));
        sa = (struct sockaddr *)&sa6;
        salen = sizeof(sa6);
    } else if (inet_pton(AF_INET, argv[3], &sa4.sin_addr) == 1) {
        sa4.sin_port = htons((uint16_t)atoi(argv[4]));
        sa = (struct sockaddr *)&sa4;
        salen = sizeof(sa4);
    } else {
        fprintf(stderr, "vx6-xfer-peer: bad address %s\n", argv[3]);
        return 2;
    }
    vx_log_set_level(getenv("VX6_DEBUG") ? VX_LOG_DEBUG : VX_LOG_INFO);
    loop = ev_default_loop(0);
    ident(&me, listener ? 0x51 : 0x52);
    ident(&peer, 0x51);
    T = vx_transport_new_for(kind, loop, &me, NULL);
    ev_timer_init(&pace, pace_cb, 0.005, 0.005);
    ev_timer_init(&guard, guard_cb, 60, 0);
    ev_timer_start(loop, &guard);
    ev_signal_init(&usr1, usr1_cb, SIGUSR1);
    ev_signal_start(loop, &usr1);
    t0 = vx_time_mono_ms();
    if (listener) {
        int rv = vx_transport_listen(T, sa, salen);
        if (rv < 0) {
            fprintf(stderr, "vx6-xfer-peer: listen: %s\n", vx_strerror(rv));
            return 1;
        }
        vx_transport_set_accept(T, accept_cb, NULL);
        fprintf(stderr, "vx6-xfer-peer: listening\n");
    } else {
        struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1, .name = "xfer"};
        int err = 0;
        total = strtoull(argv[5], NULL, 10);
        kbps = atof(argv[6]);
        S = vx_transport_open(T, peer.node_id, sa, salen, &tgt, &cbs, NULL, &err);
        if (!S) {
            fprintf(stderr, "vx6-xfer-peer: open: %s\n", vx_strerror(err));
            return 1;
        }
    }
    ev_run(loop, 0);
    if (S)
        vx_stream_close(S, VX_ERR_CLOSED);
    vx_transport_free(T);
    vx_identity_wipe(&me);
    vx_identity_wipe(&peer);
    return failed || !finished ? 1 : 0;
}
