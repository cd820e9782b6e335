/* vx6d.c — the VX6 node daemon's main(): options, config, then the core. */
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/gatewaymod.h"
#include "daemon/disco_path.h"
#include "daemon/discovery.h"
#include "daemon/pathmod.h"
#include "daemon/metricsmod.h"
#include "daemon/notify.h"
#include "daemon/xdpmod.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit codes (vx6d(8)). */
#define EXIT_STOPPED 0 /* stopped by a signal or `vx6 stop` */
#define EXIT_FAIL    1 /* bad config, or startup failed */
#define EXIT_USAGE   2 /* bad command line */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vx6d [OPTION]...\n"
            "The VX6 node daemon: makes localhost services reachable by name from other\n"
            "nodes, and *.vx6 names reachable through a local SOCKS5/HTTP CONNECT proxy.\n"
            "Runs in the foreground and logs to stderr.\n"
            "\n"
            "  -c, --config FILE   configuration file (default %s if it exists,\n"
            "                      else built-in defaults)\n"
            "      --check-config  check the configuration and exit (0 = OK, 1 = errors);\n"
            "                      with -v also print the effective configuration\n"
            "  -d, --debug         log at debug level (overrides log_level)\n"
            "  -v, --verbose       with --check-config: print the effective configuration\n"
            "  -h, --help          show this help and exit\n"
            "      --version       show the version and exit\n"
            "\n"
            "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.\n"
            "See vx6d(8), vx6.yaml(5) and vx6(1).\n",
            VX_CONFIG_DEFAULT_PATH);
}

/* Load the configuration: explicit path, else the default file if present,
 * else built-in defaults.  *used_path is NULL for defaults. */
static int load_config(const char *path, bool explicit_path, struct vx_config **cfg,
                       const char **used_path)
{
    static char err[8192];
    int rc;

    *used_path = NULL;
    if (!explicit_path && access(path, F_OK) != 0) {
        *cfg = vx_config_new_default();
        rc = vx_config_validate(*cfg, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "vx6d: built-in defaults do not work here:\n%s\n", err);
            vx_config_free(*cfg);
            *cfg = NULL;
        }
        return rc;
    }
    err[0] = '\0';
    rc = vx_config_load(path, cfg, err, sizeof(err));
    if (rc < 0) {
        size_t l = strlen(err);
        while (l && err[l - 1] == '\n')
            err[--l] = '\0';
        if (rc == VX_ERR_NOTFOUND)
            fprintf(stderr, "vx6d: cannot read %s: No such file or directory\n", path);
        else if (err[0])
            fprintf(stderr, "%s\n", err);
        else
            fprintf(stderr, "vx6d: cannot load %s: %s\n", path, vx_strerror(rc));
        return rc;
    }
    /* reloads and `vx6 status` use the absolute path */
    static char abs[4096];
    *used_path = realpath(path, abs) ? abs : path;
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_VERSION };
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"check-config", no_argument, NULL, OPT_CHECK},
            {"debug", no_argument, NULL, 'd'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, OPT_VERSION},
            {NULL, 0, NULL, 0},
    };
    const char *path = VX_CONFIG_DEFAULT_PATH, *used_path;
    bool explicit_path = false, check = false, debug = false, verbose = false;
    struct vx_config *cfg = NULL;
    struct vx_daemon *d;
    int c, rc;

    vx_log_set_ident("vx6d");
    while ((c = getopt_long(argc, argv, "c:dvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            explicit_path = true;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case 'd':
            debug = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("vx6d %s\n", PACKAGE_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'vx6d --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vx6d: unexpected argument '%s'\nTry 'vx6d --help' for more information.\n",
                argv[optind]);
        return EXIT_USAGE;
    }

    if (load_config(path, explicit_path, &cfg, &used_path) < 0) {
        if (check)
            return EXIT_FAIL;
        fprintf(stderr, "vx6d: not started: fix the configuration (vx6d --check-config%s%s)\n",
                explicit_path ? " -c " : "", explicit_path ? path : "");
        return EXIT_FAIL;
    }
    if (check) {
        if (verbose)
            vx_config_dump(cfg, stdout);
        printf("configuration OK (%s)\n", used_path ? used_path : "built-in defaults");
        vx_config_free(cfg);
        return 0;
    }
    d = vx_daemon_new(cfg, used_path, debug ? "debug" : NULL);
    /* Modules plug in here, one per slot, as they are built:
     * vx_daemon_set_module(d, VX_SLOT_TRANSPORT, ...). */
    /* data plane: node transport, services, path, SOCKS front, forwards */
    struct vx_gatewaymod *gwm = vx_gatewaymod_new();
    vx_daemon_set_module(d, VX_SLOT_TRANSPORT, &vx_gatewaymod_ops, gwm);
    vx_daemon_set_module(d, VX_SLOT_FRONT, &vx_gatewaymod_front_ops, gwm);
    /* discovery: registry + DHT (on the QUIC socket), own records,
     * USER.SERVICE resolution for the gateway's path */
    struct vx_discovery *ds = vx_discovery_new();
    vx_discovery_use_gateway(ds, gwm);
    vx_daemon_set_module(d, VX_SLOT_DHT, &vx_discovery_module, ds);
    /* relay circuits (relay role, route relay/auto) and hidden services */
    vx_daemon_set_module(d, VX_SLOT_PATH, &vx_pathmod_ops, vx_pathmod_new());

    /* XDP classifier on the node port (xdpmod.c) */
    vx_daemon_set_module(d, VX_SLOT_XDP, &vx_xdpmod_ops, vx_xdpmod_new());

    /* Prometheus endpoint and collectors (metricsmod.c) */
    vx_daemon_set_module(d, VX_SLOT_METRICS, &vx_metricsmod_ops, vx_metricsmod_new());

    /* systemd readiness, reload, stop, watchdog (notify.c) */
    struct vx_notify *notify = vx_notify_new(d);

    rc = vx_daemon_start(d);
    if (rc == 0)
        vx_daemon_run(d);
    else
        log_err(LD_GENERAL, "vx6d not started");
    vx_daemon_free(d);
    vx_notify_free(notify);
    return rc == 0 ? EXIT_STOPPED : EXIT_FAIL;
}
