/* vx6-hs-node — one hidden-service-capable node per process, for
 * tests/net/hidden.sh and tests/bench/hidden.sh (vx6d's wiring of the data
 * plane lands with the gateway branch; this runs the same transport, relay,
 * DHT and hidden-service code).
 *
 *   vx6-hs-node -n N -l ADDR:PORT -p PEERS [-H NAME=ADDR:PORT -A FILE]...
 *               [-c LPORT:ADDRESS:VPORT]... [-q ADDRESS:VPORT] [-P 3|5] [-D]
 *
 *   -n N      identity from the seed byte N (PEERS lists "N ADDR:PORT"; the
 *             DHT runs on the same address and port over UDP)
 *   -H        serve hidden service NAME (a fresh key) forwarding every port
 *             to ADDR:PORT; the next -A names the file that receives its
 *             ADDRESS once published, and FILE.intros the peer numbers of its
 *             intro points (rewritten on every change)
 *   -c        listen on 127.0.0.1:LPORT; each connection goes to
 *             ADDRESS:VPORT through a rendezvous
 *   -q        probe: connect once, print "ok open_ms=T" or
 *             "error NAME socks=0xNN ms=T", exit 0 or 1
 *   -P        profile: relays on each side of the rendezvous point (3 fast,
 *             5 balanced)
 *   -D        no /16 diversity rule in relay selection
 *   -K        print the ADDRESS of a fresh key (served by nobody) and exit
 * SIGTERM/SIGINT exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "path/circuit.h"
#include "crypto/identity.h"
#include "dht/dht.h"
#include "front/errors.h"
#include "hidden/descriptor.h"
#include "hidden/hsaddr.h"
#include "hidden/hsconn.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "registry/registry.h"
#include "service/service.h"
#include "transport/tcp.h"
#include "transport/transport.h"

#define MAXPEERS 64
#define MAXHS    4
#define MAXFWD   8

struct peer {
    int n;
    struct vx_identity id;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct hs {
    struct vx_service_def def;
    struct vx_identity key;
    struct vx_hs_service *s;
    const char *file;
    uint64_t last_pub;
};

struct fwd {
    char address[128];
    uint16_t vport;
    int lfd;
    ev_io w;
};

static struct ev_loop *loop;
static struct vx_transport *tr;
static struct vx_relay *rl;
static struct vx_dht *dht;
static struct vx_registry *reg;
static struct vx_hs_connector *conn;
static struct peer peers[MAXPEERS];
static int npeers, self_n = -1;
static struct hs hss[MAXHS];
static int nhs;
static struct fwd fwds[MAXFWD];
static int nfwd;
static uint64_t t_start;
static int probe_rc = -1;
static ev_timer poll_w;

static void die(const char *m)
{
    fprintf(stderr, "vx6-hs-node: %s\n", m);
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
        vx_stream_accept(s, VX_ERR_REFUSED, NULL, NULL);
}

static int peer_n_of(const uint8_t id[VX_NODE_ID_LEN])
{
    for (int i = 0; i < npeers; i++)
        if (!memcmp(peers[i].id.node_id, id, VX_NODE_ID_LEN))
            return peers[i].n;
    return -1;
}

/* owner: write ADDRESS and the intro points when the descriptor changes */
static void poll_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    for (int i = 0; i < nhs; i++) {
        struct hs *h = &hss[i];
        struct vx_hs_service_status st;
        vx_hs_service_status(h->s, &st);
        if (!st.published || st.publishes == h->last_pub || !h->file)
            continue;
        h->last_pub = st.publishes;
        uint8_t ids[VX_HSDESC_MAX_INTROS][VX_NODE_ID_LEN];
        size_t n = vx_hs_service_intros(h->s, ids, VX_HSDESC_MAX_INTROS);
        char path[512], tmp[520];
        snprintf(path, sizeof(path), "%s.intros", h->file);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (f) {
            for (size_t j = 0; j < n; j++)
                fprintf(f, "%d%s", peer_n_of(ids[j]), j + 1 < n ? " " : "\n");
            fclose(f);
            rename(tmp, path);
        }
        snprintf(tmp, sizeof(tmp), "%s.tmp", h->file);
        f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%s.vx6\n", vx_hs_service_address(h->s));
            fclose(f);
            rename(tmp, h->file);
        }
        fprintf(stderr, "hidden %s: published revision %llu (reachable after %llu ms)\n",
                h->def.name, (unsigned long long)st.revision, (unsigned long long)st.reachable_ms);
    }
}

/* client side */
struct cconn {
    int fd;
    uint64_t t0;
    int probe;
};

static void c_open(struct vx_hs_conn *hc, int err, void *arg)
{
    struct cconn *k = arg;
    uint64_t ms = vx_time_mono_ms() - k->t0;
    if (k->probe) {
        if (err < 0) {
            printf("error %s socks=0x%02X ms=%llu\n", vx_errname(err), vx_front_socks5_code(err),
                   (unsigned long long)ms);
            probe_rc = 1;
        } else {
            printf("ok open_ms=%llu\n", (unsigned long long)ms);
            vx_hs_conn_close(hc);
            probe_rc = 0;
        }
        fflush(stdout);
        free(k);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (err < 0) {
        fprintf(stderr, "hidden connection error %s socks=0x%02X ms=%llu\n", vx_errname(err),
                vx_front_socks5_code(err), (unsigned long long)ms);
        close(k->fd);
        free(k);
        return;
    }
    vx_hs_conn_splice(hc, k->fd);
}

static void c_close(struct vx_hs_conn *hc, int err, void *arg)
{
    free(arg);
}

static const struct vx_hs_conn_cbs ccbs = {c_open, c_close};

static void listen_cb(struct ev_loop *l, ev_io *w, int revents)
{
    struct fwd *fw = w->data;
    int fd = accept4(fw->lfd, NULL, NULL, SOCK_CLOEXEC);
    int err = 0;
    if (fd < 0)
        return;
    struct cconn *k = calloc(1, sizeof(*k));
    k->fd = fd;
    k->t0 = vx_time_mono_ms();
    if (!vx_hs_connect(conn, fw->address, fw->vport, &ccbs, k, &err)) {
        fprintf(stderr, "hidden connection error %s socks=0x%02X ms=0\n", vx_errname(err),
                vx_front_socks5_code(err));
        close(fd);
        free(k);
    }
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

static int split_addr_port(const char *spec, char *addr, size_t cap, uint16_t *port)
{
    const char *c = strrchr(spec, ':');
    if (!c || (size_t)(c - spec) >= cap)
        return -1;
    memcpy(addr, spec, (size_t)(c - spec));
    addr[c - spec] = 0;
    *port = (uint16_t)atoi(c + 1);
    return 0;
}

int main(int argc, char **argv)
{
    struct vx_identity me;
    struct sockaddr_storage la;
    socklen_t lal = 0;
    struct vx_relay_conf rc;
    struct vx_hs_connector_conf kc = {0};
    const char *probe = NULL;
    unsigned profile = VX_HS_PROFILE_FAST;
    int opt;

    vx_relay_conf_defaults(&rc);
    signal(SIGPIPE, SIG_IGN);
    vx_log_set_level(VX_LOG_WARN);
    while ((opt = getopt(argc, argv, "n:l:p:H:A:c:q:P:DKv")) != -1) {
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
        case 'H': {
            char *eq = strchr(optarg, '=');
            if (!eq || nhs >= MAXHS)
                die("bad -H");
            struct hs *h = &hss[nhs++];
            snprintf(h->def.name, sizeof(h->def.name), "%.*s", (int)(eq - optarg), optarg);
            h->def.has_target = 1;
            h->def.hidden = 1;
            if (vx_addr_parse(eq + 1, 0, &h->def.target, &h->def.target_len) < 0)
                die("bad -H target");
            break;
        }
        case 'A':
            if (!nhs)
                die("-A after -H");
            hss[nhs - 1].file = optarg;
            break;
        case 'c': {
            if (nfwd >= MAXFWD)
                die("too many -c");
            struct fwd *fw = &fwds[nfwd++];
            int lport = atoi(optarg);
            const char *rest = strchr(optarg, ':');
            if (!rest || split_addr_port(rest + 1, fw->address, sizeof(fw->address), &fw->vport))
                die("bad -c");
            struct sockaddr_in sin = {.sin_family = AF_INET,
                                      .sin_port = htons((uint16_t)lport),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            int one = 1;
            fw->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            setsockopt(fw->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fw->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fw->lfd, 128) < 0)
                die("cannot listen for -c");
            break;
        }
        case 'q':
            probe = optarg;
            break;
        case 'P':
            profile = (unsigned)atoi(optarg);
            break;
        case 'D':
            rc.diversity = 0;
            break;
        case 'v':
            vx_log_set_level(VX_LOG_INFO);
            break;
        case 'K': {
            struct vx_identity k;
            char a[VX_HSADDR_LEN + 1];
            vx_identity_generate(&k);
            vx_hsaddr_format(k.pk, a, sizeof(a));
            printf("%s.vx6\n", a);
            return 0;
        }
        default:
            die("usage: see the comment at the top of vx6-hs-node.c");
        }
    }
    if (self_n < 0 || !lal)
        die("-n and -l are required");
    t_start = vx_time_mono_ms();
    id_of(self_n, &me);
    loop = ev_default_loop(0);
    tr = vx_transport_tcp_new(loop, &me, NULL);
    if (vx_transport_listen(tr, (struct sockaddr *)&la, lal) < 0)
        die("cannot listen");
    rl = vx_relay_new(loop, tr, &me, &rc);
    vx_transport_set_accept(tr, accept_cb, NULL);
    reg = vx_registry_new(NULL);
    dht = vx_dht_new(loop, &me, reg, NULL);
    if (vx_dht_listen(dht, (struct sockaddr *)&la, lal) < 0)
        die("cannot listen (DHT)");

    struct vx_relay_cand pool[MAXPEERS];
    struct sockaddr_storage boot[MAXPEERS];
    size_t np = 0, nb = 0;
    memset(pool, 0, sizeof(pool));
    for (int i = 0; i < npeers; i++) {
        vx_transport_learn_key(tr, peers[i].id.pk);
        if (peers[i].n == self_n)
            continue;
        memcpy(pool[np].pk, peers[i].id.pk, VX_PK_LEN);
        memcpy(&pool[np].addr, &peers[i].addr, peers[i].addrlen);
        pool[np].addrlen = peers[i].addrlen;
        pool[np].relay = 1;
        np++;
        boot[nb++] = peers[i].addr;
    }
    vx_relay_set_pool(rl, pool, np);
    if (nb)
        vx_dht_bootstrap(dht, boot, nb);

    struct vx_hs_serve_conf sc = {.profile = profile};
    for (int i = 0; i < nhs; i++) {
        vx_identity_generate(&hss[i].key);
        hss[i].s = vx_hs_serve(rl, dht, &hss[i].key, &hss[i].def, &sc);
    }
    ev_timer_init(&poll_w, poll_cb, 0.01, 0.01);
    if (nhs)
        ev_timer_start(loop, &poll_w);

    kc.profile = profile;
    conn = vx_hs_connector_new(rl, dht, &kc);
    for (int f = 0; f < nfwd; f++) {
        ev_io_init(&fwds[f].w, listen_cb, fwds[f].lfd, EV_READ);
        fwds[f].w.data = &fwds[f];
        ev_io_start(loop, &fwds[f].w);
    }
    ev_signal s1, s2;
    ev_signal_init(&s1, sig_cb, SIGTERM);
    ev_signal_init(&s2, sig_cb, SIGINT);
    ev_signal_start(loop, &s1);
    ev_signal_start(loop, &s2);
    if (probe) {
        char a[128];
        uint16_t port = 0;
        int err = 0;
        struct cconn *k = calloc(1, sizeof(*k));
        k->probe = 1;
        k->fd = -1;
        if (split_addr_port(probe, a, sizeof(a), &port) < 0)
            die("bad -q");
        /* let the DHT find its neighbours first */
        ev_run(loop, EVRUN_NOWAIT);
        ev_timer boot_w;
        ev_timer_init(&boot_w, (void (*)(struct ev_loop *, ev_timer *, int))sig_cb, 0.3, 0);
        ev_timer_start(loop, &boot_w);
        ev_run(loop, 0);
        k->t0 = vx_time_mono_ms();
        if (!vx_hs_connect(conn, a, port, &ccbs, k, &err)) {
            printf("error %s socks=0x%02X ms=0\n", vx_errname(err), vx_front_socks5_code(err));
            return 1;
        }
        ev_run(loop, 0);
    } else {
        fprintf(stderr, "vx6-hs-node %d: up\n", self_n);
        ev_run(loop, 0);
    }
    for (int i = 0; i < nhs; i++) {
        struct vx_hs_service_status st;
        vx_hs_service_status(hss[i].s, &st);
        fprintf(stderr,
                "hidden %s: introduces=%llu replays=%llu rend_ok=%llu streams=%llu "
                "intro_changes=%llu publishes=%llu\n",
                hss[i].def.name, (unsigned long long)st.introduces, (unsigned long long)st.replays,
                (unsigned long long)st.rend_ok, (unsigned long long)st.streams,
                (unsigned long long)st.intro_changes, (unsigned long long)st.publishes);
        vx_hs_service_free(hss[i].s);
    }
    vx_dht_free(dht); /* then the connector: pending resolves hold the DHT */
    vx_hs_connector_free(conn);
    vx_relay_free(rl);
    vx_transport_free(tr);
    vx_registry_free(reg);
    return probe ? (probe_rc < 0 ? 1 : probe_rc) : 0;
}
