/* vx6.c — the VX6 control tool: global options and the subcommand table
 * (one file per subcommand family: daemon_cmds.c, key_cmds.c, hidden_cmds.c). */
#include "cli/cli.h"
#include "cli/ctlclient.h"
#include "daemon/config.h"
#include "lib/err.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    int (*fn)(struct cli *g, int argc, char **argv);
    const char *description;
} subcommands[] = {
        {"status", cmd_status, "show the daemon's node ID, listeners and counters"},
        {"id", cmd_id, "show this node's ID and public key (--key FILE: from a key file)"},
        {"keygen", cmd_keygen, "create a new identity key file"},
        {"loglevel", cmd_loglevel, "show or change the daemon's log level"},
        {"reload", cmd_reload, "make the daemon re-read its configuration"},
        {"stop", cmd_stop, "stop the daemon"},
        {"hidden", cmd_hidden,
         "hidden services: 'hidden address NAME' shows ADDRESS.vx6, 'hidden auth-key', 'hidden "
         "status'"},
        {"services", cmd_services, "published services and their localhost targets"},
        {"forwards", cmd_forwards, "local forwarded ports"},
        {"connect", cmd_connect, "forward a local port to a vx6 name (--listen ADDR)"},
        {"disconnect", cmd_disconnect, "remove a forward made with connect"},
        {"resolve", cmd_resolve, "look up USER.SERVICE.vx6: node, endpoints, ports, key, pin"},
        {"trust", cmd_trust, "pin USER to KEY (accept a changed key)"},
        {"peers", cmd_peers, "show the DHT's peers"},
        {"publish", cmd_publish, "publish a configured service's record"},
        {"unpublish", cmd_publish, "withdraw a configured service's record"},
        {"alias", cmd_alias, "petnames: 'alias add NAME TARGET', 'alias list', 'alias rm NAME'"},
        {"ebpf", cmd_ebpf, "XDP classifier: status, attach [IFACE] [--mode M], detach"},
};

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [OPTION]... COMMAND [ARG]...\n"
            "Control the VX6 node daemon, vx6d(8).\n"
            "\n"
            "Options:\n"
            "  -s, --socket PATH   vx6d's control socket (default: control_socket from the\n"
            "                      config, else the built-in default)\n"
            "  -c, --config FILE   read control_socket and data_dir from FILE\n"
            "                      (default %s if it exists)\n"
            "      --json          machine-readable output (every read command)\n"
            "  -h, --help          show this help\n"
            "      --version       show the version\n"
            "\n"
            "Commands:\n",
            prog, VX_CONFIG_DEFAULT_PATH);
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
    fprintf(f, "\n'%s COMMAND --help' shows a command's options.  See vx6(1).\n", prog);
}

/* The config for socket and data dir lookups: -c FILE, else the default file
 * when it is readable, else built-in defaults.  NULL after an error. */
struct vx_config *cli_load_config(struct cli *g)
{
    static char err[4096];
    struct vx_config *cfg = NULL;
    const char *path = g->config;

    if (!path && access(VX_CONFIG_DEFAULT_PATH, R_OK) == 0)
        path = VX_CONFIG_DEFAULT_PATH;
    if (!path)
        return vx_config_new_default();
    int rc = vx_config_load(path, &cfg, err, sizeof(err));
    if (rc < 0) {
        if (rc == VX_ERR_NOTFOUND)
            fprintf(stderr, "%s: cannot read %s: No such file or directory\n", g->prog, path);
        else
            fprintf(stderr, "%s: %s: configuration errors:\n%s", g->prog, path, err);
        return NULL;
    }
    return cfg;
}

const char *cli_socket_path(struct cli *g)
{
    struct vx_config *cfg;

    if (g->socket)
        return g->socket;
    cfg = cli_load_config(g);
    if (!cfg)
        return NULL;
    snprintf(g->socket_buf, sizeof(g->socket_buf), "%s", cfg->control_socket);
    /* No daemon of our own, but a system one (run as root, or by
     * contrib/vx6d.service as a dynamic user): talk to that. */
    if (!g->config && access(g->socket_buf, F_OK) != 0) {
        static const char *const system_sockets[] = {"/run/vx6/control.sock", "/run/vx6/vx6.sock"};
        for (size_t i = 0; i < 2; i++)
            if (access(system_sockets[i], F_OK) == 0) {
                snprintf(g->socket_buf, sizeof(g->socket_buf), "%s", system_sockets[i]);
                break;
            }
    }
    vx_config_free(cfg);
    g->socket = g->socket_buf;
    return g->socket;
}

char *cli_data_dir(struct cli *g)
{
    struct vx_config *cfg = cli_load_config(g);
    char *dir;
    if (!cfg)
        return NULL;
    dir = strdup(cfg->data_dir);
    if (!dir)
        abort();
    vx_config_free(cfg);
    return dir;
}

int cli_daemon_call(struct cli *g, const char *cmd, int argc, char *const argv[])
{
    struct vx_ctl_response resp;
    const char *path = cli_socket_path(g);
    int rc;

    if (!path)
        return CLI_EXIT_FAIL;
    rc = vx_ctl_call(path, g->json, cmd, argc, argv, VX_CTL_CLIENT_TIMEOUT_MS, &resp);
    if (rc == VX_ERR_SYS) {
        fprintf(stderr, "%s: cannot connect to vx6d at %s: %s%s\n", g->prog, path, strerror(errno),
                (errno == ENOENT || errno == ECONNREFUSED) ? " (is vx6d running?)"
                : errno == EACCES ? " (run as the user vx6d runs as, or use sudo)"
                                  : "");
        return CLI_EXIT_FAIL;
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", g->prog, cmd,
                rc == VX_ERR_TIMEOUT ? "vx6d did not answer in time"
                : rc == VX_ERR_PROTO ? "malformed answer from vx6d"
                                     : vx_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    if (!resp.ok) {
        fprintf(stderr, "%s: %s\n", g->prog, resp.message);
        vx_ctl_response_clear(&resp);
        return CLI_EXIT_FAIL;
    }
    fwrite(resp.body, 1, resp.body_len, stdout);
    vx_ctl_response_clear(&resp);
    if (fflush(stdout) != 0)
        return CLI_EXIT_FAIL;
    return CLI_EXIT_OK;
}

int cli_common_opts(struct cli *g, int argc, char **argv, const char *usage_text, int *exit_code)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, usage_text);
            *exit_code = CLI_EXIT_OK;
            return -1;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
            *exit_code = CLI_EXIT_USAGE;
            return -1;
        }
    }
    return optind;
}

int main(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_VERSION };
    static const struct option opts[] = {
            {"socket", required_argument, NULL, 's'},    {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, OPT_JSON},       {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0},
    };
    struct cli g = {.prog = "vx6"};
    int c;

    /* '+': stop at the subcommand; its options are its own. */
    while ((c = getopt_long(argc, argv, "+s:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            g.socket = optarg;
            break;
        case 'c':
            g.config = optarg;
            break;
        case OPT_JSON:
            g.json = true;
            break;
        case 'h':
            usage(stdout, g.prog);
            return CLI_EXIT_OK;
        case OPT_VERSION:
            printf("vx6 %s\n", PACKAGE_VERSION);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n", g.prog);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr, g.prog);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout, g.prog);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (strcmp(name, subcommands[i].name) == 0)
            return subcommands[i].fn(&g, argc - optind, argv + optind);
    fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help' for the list of commands.\n", g.prog,
            name, g.prog);
    return CLI_EXIT_USAGE;
}
