/* daemon_cmds.c — vx6 subcommands answered by the running daemon:
 * status, loglevel, reload, stop. */
#include "cli/cli.h"

#include <stdio.h>

int cmd_status(struct cli *g, int argc, char **argv)
{
    int ex, i = cli_common_opts(g, argc, argv, "status [--json]", &ex);
    if (i < 0)
        return ex;
    if (i != argc) {
        fprintf(stderr, "Usage: %s status [--json]\n", g->prog);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "status", 0, NULL);
}

int cmd_loglevel(struct cli *g, int argc, char **argv)
{
    static const char u[] = "loglevel [--json] [SPEC]   (SPEC: \"info\" or \"info,dht=debug\")";
    int ex, i = cli_common_opts(g, argc, argv, u, &ex);
    if (i < 0)
        return ex;
    if (argc - i > 1) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "loglevel", argc - i, argv + i);
}

int cmd_reload(struct cli *g, int argc, char **argv)
{
    int ex, i = cli_common_opts(g, argc, argv, "reload [--json]", &ex);
    if (i < 0)
        return ex;
    if (i != argc) {
        fprintf(stderr, "Usage: %s reload [--json]\n", g->prog);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "reload", 0, NULL);
}

int cmd_stop(struct cli *g, int argc, char **argv)
{
    int ex, i = cli_common_opts(g, argc, argv, "stop [--json]", &ex);
    if (i < 0)
        return ex;
    if (i != argc) {
        fprintf(stderr, "Usage: %s stop [--json]\n", g->prog);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "stop", 0, NULL);
}
