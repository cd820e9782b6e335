/* ebpf_cmds.c — vx6 ebpf status|attach|detach: the daemon's XDP classifier. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_text[] = "ebpf status [--json]\n"
                                 "       vx6 ebpf attach [IFACE] [--mode native|generic] [--json]\n"
                                 "       vx6 ebpf detach [--json]";

static int usage(struct cli *g, FILE *f, int code)
{
    fprintf(f, "Usage: %s %s\n", g->prog, usage_text);
    return code;
}

int cmd_ebpf(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"mode", required_argument, NULL, 'm'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *mode = NULL, *sub;
    char *args[2];
    int c, n = 0;

    if (argc < 2)
        return usage(g, stderr, CLI_EXIT_USAGE);
    sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return usage(g, stdout, CLI_EXIT_OK);
    optind = 0; /* glibc: full re-initialisation (vx6.c scanned with "+") */
    while ((c = getopt_long(argc - 1, argv + 1, "hm:", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'm':
            if (strcmp(optarg, "native") != 0 && strcmp(optarg, "generic") != 0) {
                fprintf(stderr, "%s: --mode must be native or generic\n", g->prog);
                return CLI_EXIT_USAGE;
            }
            mode = optarg;
            break;
        case 'h':
            return usage(g, stdout, CLI_EXIT_OK);
        default:
            return usage(g, stderr, CLI_EXIT_USAGE);
        }
    }
    int nops = argc - 1 - optind;
    char **ops = argv + 1 + optind;

    if (strcmp(sub, "status") == 0) {
        if (nops || mode)
            return usage(g, stderr, CLI_EXIT_USAGE);
        return cli_daemon_call(g, "ebpf-status", 0, NULL);
    }
    if (strcmp(sub, "detach") == 0) {
        if (nops || mode)
            return usage(g, stderr, CLI_EXIT_USAGE);
        return cli_daemon_call(g, "ebpf-detach", 0, NULL);
    }
    if (strcmp(sub, "attach") == 0) {
        if (nops > 1)
            return usage(g, stderr, CLI_EXIT_USAGE);
        if (nops == 1)
            args[n++] = ops[0];
        if (mode)
            args[n++] = (char *)mode;
        return cli_daemon_call(g, "ebpf-attach", n, args);
    }
    fprintf(stderr, "%s: unknown ebpf command '%s'\n", g->prog, sub);
    return usage(g, stderr, CLI_EXIT_USAGE);
}
