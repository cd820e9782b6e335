/* vx6-session-peer — one TCP + Noise transport in a process, for tests.
 *
 *   vx6-session-peer id SEEDBYTE
 *       print the node ID of the test identity made from SEEDBYTE (hex)
 *   vx6-session-peer listen SEEDBYTE NODE-PORT TARGET-PORT
 *       accept sessions on 127.0.0.1:NODE-PORT; forward every stream to
 *       127.0.0.1:TARGET-PORT
 *   vx6-session-peer dial SEEDBYTE PEER-ID NODE-PORT LOCAL-PORT
 *       listen on 127.0.0.1:LOCAL-PORT; carry every connection there as a
 *       stream to node PEER-ID at 127.0.0.1:NODE-PORT
 *
 * Runs until killed.  Logs go to stderr ("VX6_LOG" sets the level spec).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/log.h"
#include "transport/tcp.h"

static struct ev_loop *loop;
static struct vx_transport *tr;
static struct sockaddr_in target_addr, node_addr;
static uint8_t peer_id[VX_NODE_ID_LEN];

static struct sockaddr_in lo_port(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    return a;
}

static void on_close(struct vx_stream *s, int err, void *arg)
{
    if (err < 0)
        log_notice(LD_GENERAL, "stream closed: %s", vx_strerror(err));
}

static const struct vx_stream_cbs srv_cbs = {.on_close = on_close};

static void on_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&target_addr, sizeof(target_addr)) < 0) {
        log_notice(LD_GENERAL, "target: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        vx_stream_accept(s, VX_ERR_REFUSED, NULL, NULL);
        return;
    }
    vx_stream_accept(s, 0, &srv_cbs, NULL);
    vx_stream_splice(s, fd);
}

static void on_open(struct vx_stream *s, int err, void *arg)
{
    int fd = (int)(intptr_t)arg;
    if (err < 0) {
        log_notice(LD_GENERAL, "open failed: %s", vx_strerror(err));
        close(fd);
        return;
    }
    vx_stream_splice(s, fd);
}

static const struct vx_stream_cbs cli_cbs = {.on_open = on_open, .on_close = on_close};

static void local_accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
    int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
    int err = 0;
    struct vx_stream_target tgt = {.kind = VX_TARGET_SERVICE, .port = 1};
    if (fd < 0)
        return;
    strcpy(tgt.name, "test");
    if (!vx_transport_open(tr, peer_id, (struct sockaddr *)&node_addr, sizeof(node_addr), &tgt,
                           &cli_cbs, (void *)(intptr_t)fd, &err)) {
        log_notice(LD_GENERAL, "open: %s", vx_strerror(err));
        close(fd);
    }
}

static void sig_cb(struct ev_loop *l, ev_signal *w, int revents)
{
    ev_break(l, EVBREAK_ALL);
}

static int usage(void)
{
    fprintf(stderr, "usage: vx6-session-peer id SEED | listen SEED NODE-PORT TARGET-PORT |"
                    " dial SEED PEER-ID NODE-PORT LOCAL-PORT\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct vx_identity id;
    uint8_t seed[VX_SEED_LEN];
    char idstr[VX_NODE_ID_STRLEN + 1];
    ev_io lw;
    ev_signal sterm, sint;

    if (argc < 3)
        return usage();
    memset(seed, (int)strtoul(argv[2], NULL, 16), sizeof(seed));
    if (vx_identity_from_seed(&id, seed) < 0)
        return 1;
    if (strcmp(argv[1], "id") == 0) {
        vx_node_id_to_str(id.node_id, idstr, sizeof(idstr));
        printf("%s\n", idstr);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    vx_log_configure(getenv("VX6_LOG") ? getenv("VX6_LOG") : "notice");
    vx_log_set_ident("vx6-session-peer");
    loop = ev_default_loop(0);
    tr = vx_transport_tcp_new(loop, &id, NULL);
    if (strcmp(argv[1], "listen") == 0 && argc == 5) {
        struct sockaddr_in la = lo_port(atoi(argv[3]));
        target_addr = lo_port(atoi(argv[4]));
        if (vx_transport_listen(tr, (struct sockaddr *)&la, sizeof(la)) < 0) {
            perror("listen");
            return 1;
        }
        vx_transport_set_accept(tr, on_accept, NULL);
    } else if (strcmp(argv[1], "dial") == 0 && argc == 6) {
        int one = 1;
        if (vx_node_id_from_str(argv[3], peer_id) < 0)
            return usage();
        node_addr = lo_port(atoi(argv[4]));
        struct sockaddr_in la = lo_port(atoi(argv[5]));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(fd, 64) < 0) {
            perror("local listen");
            return 1;
        }
        ev_io_init(&lw, local_accept_cb, fd, EV_READ);
        ev_io_start(loop, &lw);
    } else {
        return usage();
    }
    ev_signal_init(&sterm, sig_cb, SIGTERM);
    ev_signal_init(&sint, sig_cb, SIGINT);
    ev_signal_start(loop, &sterm);
    ev_signal_start(loop, &sint);
    ev_run(loop, 0);
    vx_transport_free(tr);
    return 0;
}
