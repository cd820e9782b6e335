/* vx6-gw-node — a node made of the gateway alone (transport, services,
 * path, front, forwards) from a vx6.yaml, for tests/net scripts while they
 * do not need vx6d's control socket, DHT or identity store.
 *
 *     vx6-gw-node CONFIG     runs until SIGTERM/SIGINT; SIGHUP reloads;
 *                            prints "ready" on stdout once listening.
 */
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/identity.h"
#include "daemon/config.h"
#include "daemon/gateway.h"
#include "lib/err.h"
#include "lib/log.h"

static const char *cfg_path;
static struct vx_config *cfg;
static struct vx_gateway *gw;

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    char err[2048];
    (void)revents;
    if (w->signum != SIGHUP) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (vx_config_reload(&cfg, cfg_path, err, sizeof(err)) < 0) {
        log_err(LD_CONFIG, "reload failed, keeping the running config:\n%s", err);
        return;
    }
    vx_gateway_reload(gw, cfg);
    log_notice(LD_GENERAL, "configuration reloaded");
}

int main(int argc, char **argv)
{
    char err[2048];
    struct vx_identity id;
    struct ev_loop *loop = EV_DEFAULT;
    ev_signal s1, s2, s3;
    int r;

    if (argc != 2) {
        fprintf(stderr, "usage: vx6-gw-node CONFIG\n");
        return 2;
    }
    cfg_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if ((r = vx_config_load(cfg_path, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    vx_log_configure(cfg->log_level);
    vx_log_set_ident("vx6-gw-node");
    if (vx_identity_generate(&id) < 0)
        return 1;
    if ((r = vx_gateway_new(loop, &id, cfg, &gw, err, sizeof(err))) < 0) {
        fprintf(stderr, "vx6-gw-node: %s\n", err);
        return 1;
    }
    ev_signal_init(&s1, sig_cb, SIGTERM);
    ev_signal_init(&s2, sig_cb, SIGINT);
    ev_signal_init(&s3, sig_cb, SIGHUP);
    ev_signal_start(loop, &s1);
    ev_signal_start(loop, &s2);
    ev_signal_start(loop, &s3);
    printf("ready\n");
    fflush(stdout);
    ev_run(loop, 0);
    vx_gateway_free(gw);
    vx_config_free(cfg);
    vx_identity_wipe(&id);
    return 0;
}
