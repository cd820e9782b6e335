/* vx6-relay-node — one circuit-capable node per process, for tests/net/relay.sh
 * and tests/bench/relay.sh (vx6d's gateway wiring of circuits lands with the
 * gateway branch; this runs the same transport, relay and services code).
 *
 *   vx6-relay-node -n N -l ADDR:PORT [-p PEERS] [-s NAME=ADDR:PORT]
 *                  [-f LPORT:DEST:SERVICE:VPORT:HOPS] [-R] [-D] [-r RATE]
 *
 *   -n N      identity from the seed byte N (tests only: every node's key is
 *             derivable, so PEERS lists "N ADDR:PORT" lines)
 *   -l        node listen address
 *   -s        publish service NAME forwarding to ADDR:PORT
 *   -f        listen on 127.0.0.1:LPORT; each connection goes over a circuit
 *             of HOPS hops to node DEST's SERVICE:VPORT (HOPS 0 = a direct
 *             stream, for comparison), relays chosen from PEERS with failover
 *   -R        relaying off (EXTEND refused)
 *   -D        no /16 diversity rule in relay selection
 *   -r RATE   relay governor: total relayed bytes/s
 * SIGTERM/SIGINT exit; the client prints "circuits ok=N failed=M" on exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "crypto/identity.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "path/circuit.h"
#include "service/service.h"
#include "transport/tcp.h"
#include "transport/transport.h"

#define MAXPEERS 64

struct peer {
    int n;
    struct vx_identity id;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

static struct ev_loop *loop;
static struct vx_transport *tr;
static struct vx_relay *rl;
static struct vx_services *svcs;
static struct peer peers[MAXPEERS];
static int npeers, self_n = -1;
struct fwd {
    int dest, hops;
    uint16_t vport;
    char service[64];
    int lfd;
    ev_io w;
};
#define MAXFWD 8
static struct fwd fwds[MAXFWD];
static int nfwd;
static unsigned long n_ok, n_fail;

static void die(const char *m)
{
    fprintf(stderr, "vx6-relay-node: %s\n", m);
    exit(2);
}

static void id_of(int n, struct vx_identity *id)
{
    uint8_t seed[VX_SEED_LEN];
    memset(seed, n, sizeof(seed));
    if (vx_identity_from_seed(id, seed) < 0)
        die("identity");
}

static void accept_cb(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    if (tgt->kind == VX_TARGET_RELAY)
        vx_relay_accept(s, tgt, rl);
    else
        vx_services_accept(s, tgt, svcs);
}

static struct peer *peer_by_n(int n)
{
    for (int i = 0; i < npeers; i++)
        if (peers[i].n == n)
            return &peers[i];
    return NULL;
}

/* client side */
struct conn {
    int fd;
};

static void c_open(struct vx_circuit *c, int err, void *arg)
{
    struct conn *k = arg;
    if (err < 0) {
        fprintf(stderr, "vx6-relay-node: circuit failed after %u attempts: %s\n",
                vx_circuit_attempts(c), vx_strerror(err));
        n_fail++;
        close(k->fd);
        free(k);
        return;
    }
    n_ok++;
    vx_circuit_splice(c, k->fd);
}

static void c_close(struct vx_circuit *c, int err, void *arg)
{
    free(arg);
}

static const struct vx_circuit_cbs ccbs = {c_open, c_close};

static void s_open(struct vx_stream *s, int err, void *arg)
{
    struct conn *k = arg;
    if (err < 0) {
        n_fail++;
        close(k->fd);
        free(k);
        return;
    }
    n_ok++;
    vx_stream_splice(s, k->fd);
}

static void s_close(struct vx_stream *s, int err, void *arg)
{
    free(arg);
}

static const struct vx_stream_cbs scbs = {s_open, s_close};

static void listen_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct fwd *fw = w->data;
    int fd = accept4(fw->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct peer *d = peer_by_n(fw->dest);
    struct conn *k = calloc(1, sizeof(*k));
    int err = 0;
    k->fd = fd;
    if (fw->hops == 0) {
        struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = fw->vport};
        snprintf(tgt.name, sizeof(tgt.name), "%s", fw->service);
        if (vx_transport_open(tr, d->id.node_id, (struct sockaddr *)&d->addr, d->addrlen, &tgt,
                              &scbs, k, &err))
            return;
    } else {
        struct vx_circuit_req req = {
                .service = fw->service, .port = fw->vport, .hops = (unsigned)fw->hops};
        memcpy(req.dest.pk, d->id.pk, VX_PK_LEN);
        memcpy(&req.dest.addr, &d->addr, d->addrlen);
        req.dest.addrlen = d->addrlen;
        if (vx_circuit_connect(rl, &req, &ccbs, k, &err))
            return;
    }
    fprintf(stderr, "vx6-relay-node: cannot start: %s\n", vx_strerror(err));
    n_fail++;
    close(fd);
    free(k);
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
    ev_break(l, EVBREAK_ALL);
}

static void load_peers(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256], a[200];
    int n;
    if (!f)
        die("cannot open peers file");
    while (fgets(line, sizeof(line), f) && npeers < MAXPEERS) {
        if (sscanf(line, "%d %199s", &n, a) != 2)
            continue;
        struct peer *p = &peers[npeers++];
        p->n = n;
        id_of(n, &p->id);
        if (vx_addr_parse(a, 0, &p->addr, &p->addrlen) < 0)
            die("bad peer address");
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    struct vx_identity me;
    struct sockaddr_storage la;
    socklen_t lal = 0;
    struct vx_relay_conf rc;
    static struct vx_service_def defs[8];
    size_t ndefs = 0;
    const char *fwdspec[MAXFWD];
    int opt;

    vx_relay_conf_defaults(&rc);
    signal(SIGPIPE, SIG_IGN);
    vx_log_set_level(VX_LOG_WARN);
    while ((opt = getopt(argc, argv, "n:l:p:s:f:RDr:v")) != -1) {
        switch (opt) {
        case 'n':
            self_n = atoi(optarg);
            break;
        case 'l':
            if (vx_addr_parse(optarg, 0, &la, &lal) < 0)
                die("bad -l");
            break;
        case 'p':
            load_peers(optarg);
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (!eq || ndefs >= 8)
                die("bad -s");
            struct vx_service_def *d = &defs[ndefs++];
            snprintf(d->name, sizeof(d->name), "%.*s", (int)(eq - optarg), optarg);
            d->has_target = 1;
            if (vx_addr_parse(eq + 1, 0, &d->target, &d->target_len) < 0)
                die("bad -s target");
            break;
        }
        case 'f':
            if (nfwd >= MAXFWD)
                die("too many -f");
            fwdspec[nfwd++] = optarg;
            break;
        case 'R':
            rc.enabled = 0;
            break;
        case 'D':
            rc.diversity = 0;
            break;
        case 'r':
            rc.rate_total = strtoull(optarg, NULL, 10);
            break;
        case 'v':
            vx_log_set_level(VX_LOG_DEBUG);
            break;
        default:
            die("usage: see the comment at the top of vx6-relay-node.c");
        }
    }
    if (self_n < 0 || !lal)
        die("-n and -l are required");
    id_of(self_n, &me);
    loop = ev_default_loop(0);
    tr = vx_transport_tcp_new(loop, &me, NULL);
    if (vx_transport_listen(tr, (struct sockaddr *)&la, lal) < 0)
        die("cannot listen");
    for (int i = 0; i < npeers; i++)
        vx_transport_learn_key(tr, peers[i].id.pk);
    rl = vx_relay_new(loop, tr, &me, &rc);
    svcs = vx_services_new(loop);
    if (vx_services_set(svcs, defs, ndefs) < 0)
        die("bad services");
    vx_relay_set_services(rl, svcs);
    vx_transport_set_accept(tr, accept_cb, NULL);
    if (nfwd) {
        struct vx_relay_cand pool[MAXPEERS];
        size_t np = 0;
        memset(pool, 0, sizeof(pool));
        for (int i = 0; i < npeers; i++) {
            if (peers[i].n == self_n)
                continue;
            memcpy(pool[np].pk, peers[i].id.pk, VX_PK_LEN);
            memcpy(&pool[np].addr, &peers[i].addr, peers[i].addrlen);
            pool[np].addrlen = peers[i].addrlen;
            pool[np].relay = 1;
            np++;
        }
        /* the destination is excluded per circuit by vx_circuit_connect */
        vx_relay_set_pool(rl, pool, np);
    }
    for (int f = 0; f < nfwd; f++) {
        struct fwd *fw = &fwds[f];
        int lport = 0, vport = 0;
        if (sscanf(fwdspec[f], "%d:%d:%63[^:]:%d:%d", &lport, &fw->dest, fw->service, &vport,
                   &fw->hops) != 5 ||
            !peer_by_n(fw->dest))
            die("bad -f");
        fw->vport = (uint16_t)vport;
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)lport),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1;
        fw->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(fw->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fw->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fw->lfd, 128) < 0)
            die("cannot listen for -f");
        ev_io_init(&fw->w, listen_cb, fw->lfd, EV_READ);
        fw->w.data = fw;
        ev_io_start(loop, &fw->w);
    }
    ev_signal s1, s2;
    ev_signal_init(&s1, sig_cb, SIGTERM);
    ev_signal_init(&s2, sig_cb, SIGINT);
    ev_signal_start(loop, &s1);
    ev_signal_start(loop, &s2);
    fprintf(stderr, "vx6-relay-node %d: up\n", self_n);
    ev_run(loop, 0);
    if (nfwd)
        fprintf(stderr, "circuits ok=%lu failed=%lu\n", n_ok, n_fail);
    struct vx_relay_stats st;
    vx_relay_get_stats(rl, &st);
    fprintf(stderr,
            "node %d: served %llu circuits, %llu extends, %llu exits, %llu bytes relayed, "
            "%llu retries\n",
            self_n, (unsigned long long)st.circuits_total, (unsigned long long)st.extends,
            (unsigned long long)st.exits, (unsigned long long)st.bytes_relayed,
            (unsigned long long)st.client_retries);
    vx_relay_free(rl);
    vx_services_free(svcs);
    vx_transport_free(tr);
    return 0;
}
