/* disco_cmds.c — vx6 subcommands of discovery: resolve, trust, peers,
 * publish, unpublish, alias. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* Options shared by these commands, accepted before or after the operands
 * (`vx6 resolve alice.web.vx6 --json`): returns the operand count, moved to
 * argv[i..], or -1 after usage (exit code in *ex). */
static int opts_anywhere(struct cli *g, int argc, char **argv, const char *u, int *ex, int *first)
{
    int i = cli_common_opts(g, argc, argv, u, ex), n = 0;
    if (i < 0)
        return -1;
    for (int k = i; k < argc; k++) {
        if (strcmp(argv[k], "--json") == 0) {
            g->json = true;
            continue;
        }
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            printf("Usage: %s %s\n", g->prog, u);
            *ex = CLI_EXIT_OK;
            return -1;
        }
        argv[i + n++] = argv[k];
    }
    *first = i;
    return n;
}

int cmd_resolve(struct cli *g, int argc, char **argv)
{
    static const char u[] = "resolve [--json] NAME   (USER.SERVICE[.vx6] or ALIAS[.vx6])";
    int ex, i, n = opts_anywhere(g, argc, argv, u, &ex, &i);
    if (n < 0)
        return ex;
    if (n != 1) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "resolve", 1, argv + i);
}

int cmd_trust(struct cli *g, int argc, char **argv)
{
    static const char u[] = "trust [--json] USER KEY   (KEY: 64 hex digits, as 'vx6 resolve' "
                            "prints it)";
    int ex, i, n = opts_anywhere(g, argc, argv, u, &ex, &i);
    if (n < 0)
        return ex;
    if (n != 2) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "trust", 2, argv + i);
}

int cmd_peers(struct cli *g, int argc, char **argv)
{
    int ex, i, n = opts_anywhere(g, argc, argv, "peers [--json]", &ex, &i);
    if (n < 0)
        return ex;
    if (n != 0) {
        fprintf(stderr, "Usage: %s peers [--json]\n", g->prog);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "peers", 0, NULL);
}

/* publish and unpublish */
int cmd_publish(struct cli *g, int argc, char **argv)
{
    char u[64];
    int ex, i, n;
    snprintf(u, sizeof(u), "%s [--json] SERVICE", argv[0]);
    n = opts_anywhere(g, argc, argv, u, &ex, &i);
    if (n < 0)
        return ex;
    if (n != 1) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, strcmp(argv[0], "unpublish") == 0 ? "unpublish" : "publish", 1,
                           argv + i);
}

int cmd_alias(struct cli *g, int argc, char **argv)
{
    static const char u[] = "alias [--json] list | add NAME TARGET | rm NAME";
    int ex, i, n = opts_anywhere(g, argc, argv, u, &ex, &i);
    if (n < 0)
        return ex;
    if (n == 0)
        return cli_daemon_call(g, "alias", 0, NULL);
    if ((strcmp(argv[i], "list") == 0 && n == 1) || (strcmp(argv[i], "add") == 0 && n == 3) ||
        ((strcmp(argv[i], "rm") == 0 || strcmp(argv[i], "remove") == 0) && n == 2))
        return cli_daemon_call(g, "alias", n, argv + i);
    fprintf(stderr, "Usage: %s %s\n", g->prog, u);
    return CLI_EXIT_USAGE;
}
