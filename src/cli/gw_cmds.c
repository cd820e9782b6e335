/* gw_cmds.c — vx6 subcommands of the data plane: services, forwards,
 * connect, disconnect. */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* A command with no operands and only the shared options. */
static int no_operand_cmd(struct cli *g, int argc, char **argv, const char *name)
{
    char usage[64];
    int ex, i;
    snprintf(usage, sizeof(usage), "%s [--json]", name);
    if ((i = cli_common_opts(g, argc, argv, usage, &ex)) < 0)
        return ex;
    if (i != argc) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, name, 0, NULL);
}

int cmd_services(struct cli *g, int argc, char **argv)
{
    return no_operand_cmd(g, argc, argv, "services");
}

int cmd_forwards(struct cli *g, int argc, char **argv)
{
    return no_operand_cmd(g, argc, argv, "forwards");
}

int cmd_connect(struct cli *g, int argc, char **argv)
{
    static const char usage[] =
            "connect NAME[:PORT] --listen ADDR [--route direct|relay|auto] [--json]\n"
            "       vx6 connect SERVICE[:PORT] --addr IPV6 --listen ADDR   (direct IPv6 mode)";
    static const struct option opts[] = {
            {"listen", required_argument, NULL, 'l'}, {"route", required_argument, NULL, 'r'},
            {"addr", required_argument, NULL, 'a'},   {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    char *listen = NULL, *route = NULL, *addr = NULL;
    char direct[320];
    int c;

    optind = 0; /* full re-init: main() parsed with "+" (stop at the command) */
    while ((c = getopt_long(argc, argv, "l:r:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'r':
            route = optarg;
            break;
        case 'a':
            addr = optarg;
            break;
        case 'j':
            g->json = true;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, usage);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !listen) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage);
        if (!listen && optind == argc - 1)
            fprintf(stderr, "%s: --listen ADDR is required (e.g. --listen 127.0.0.1:5432)\n",
                    g->prog);
        return CLI_EXIT_USAGE;
    }
    char *args[3] = {argv[optind], listen, route};
    if (addr) {
        /* SERVICE[:PORT] at IPV6 -> SERVICE.<ipv6 with - for :>.ipv6.vx6[:PORT] */
        struct in6_addr a6;
        char svc[64], ip[INET6_ADDRSTRLEN], *colon;
        const char *a = addr;
        size_t al = strlen(addr);
        if (a[0] == '[' && al > 2 && a[al - 1] == ']') {
            snprintf(ip, sizeof(ip), "%.*s", (int)(al - 2), a + 1);
            a = ip;
        }
        if (inet_pton(AF_INET6, a, &a6) != 1 || !inet_ntop(AF_INET6, &a6, ip, sizeof(ip))) {
            fprintf(stderr, "%s: --addr needs an IPv6 address, not '%s'\n", g->prog, addr);
            return CLI_EXIT_USAGE;
        }
        for (char *p = ip; *p; p++)
            if (*p == ':')
                *p = '-';
        snprintf(svc, sizeof(svc), "%s", argv[optind]);
        colon = strchr(svc, ':');
        if (colon)
            *colon = '\0';
        if (!svc[0] || strchr(svc, '.')) {
            fprintf(stderr, "%s: with --addr, give the service name only (e.g. web:80)\n", g->prog);
            return CLI_EXIT_USAGE;
        }
        snprintf(direct, sizeof(direct), "%s.%s.ipv6.vx6%s%s", svc, ip, colon ? ":" : "",
                 colon ? colon + 1 : "");
        args[0] = direct;
    }
    return cli_daemon_call(g, "connect", route ? 3 : 2, args);
}

int cmd_disconnect(struct cli *g, int argc, char **argv)
{
    static const char usage[] = "disconnect LISTEN-ADDR [--json]";
    int ex, i = cli_common_opts(g, argc, argv, usage, &ex);
    if (i < 0)
        return ex;
    if (argc - i != 1) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage);
        return CLI_EXIT_USAGE;
    }
    return cli_daemon_call(g, "disconnect", 1, argv + i);
}
