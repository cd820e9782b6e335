/* vx6-xdpctl — attach, inspect and detach the VX6 XDP classifier.
 *
 * A test and admin tool until vx6d's control socket offers `vx6 ebpf`.  The
 * program stays attached after `attach` exits; later subcommands find it on
 * the interface.  Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/xdp.h"
#include "lib/err.h"
#include "lib/log.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: vx6-xdpctl attach IFACE [native|generic] [--port N] [--rate PPS] "
               "[--burst N]\n"
               "       vx6-xdpctl detach IFACE\n"
               "       vx6-xdpctl status IFACE [--json]\n"
               "       vx6-xdpctl limits IFACE [--port N] [--rate PPS] [--burst N]\n"
               "       vx6-xdpctl block|unblock IFACE PREFIX\n"
               "       vx6-xdpctl blocklist IFACE\n");
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (!s || !*s)
        return -1;
    v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Parse --port/--rate/--burst starting at argv[i]; -1 on a bad option. */
static int parse_limits(int argc, char **argv, int i, struct vx_xdp_limits *lim, int *json)
{
    for (; i < argc; i++) {
        uint32_t v;

        if (strcmp(argv[i], "--json") == 0 && json) {
            *json = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--port") == 0 && parse_u32(argv[i + 1], 65535, &v) == 0)
            lim->node_port = (uint16_t)v;
        else if (strcmp(argv[i], "--rate") == 0 && parse_u32(argv[i + 1], 1000000000, &v) == 0)
            lim->udp_rate_pps = v;
        else if (strcmp(argv[i], "--burst") == 0 && parse_u32(argv[i + 1], UINT32_MAX, &v) == 0)
            lim->udp_burst = v;
        else
            return -1;
        i++;
    }
    return 0;
}

static int report(int err)
{
    if (err < 0) {
        fprintf(stderr, "vx6-xdpctl: %s\n",
                *vx_xdp_last_error() ? vx_xdp_last_error() : vx_strerror(err));
        return 1;
    }
    return 0;
}

static void print_status(const struct vx_xdp_status *st, int json)
{
    const struct vx_xdp_counters *c = &st->counters;

    if (json) {
        printf("{\"interface\":\"%s\",\"mode\":\"%s\",\"prog_id\":%u,\"port\":%u,"
               "\"udp_rate_pps\":%u,\"udp_burst\":%u,\"blocked_prefixes\":%zu,\"passed\":{",
               st->ifname, vx_xdp_mode_name(st->mode), st->prog_id, st->limits.node_port,
               st->limits.udp_rate_pps, st->limits.udp_burst, st->nblocked);
        for (int i = 0; i < VX_XDP_CLASS_COUNT; i++)
            printf("%s\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", i ? "," : "",
                   vx_xdp_class_name(i), c->passed[i].packets, c->passed[i].bytes);
        printf("},\"dropped\":{");
        for (int i = 0; i < VX_XDP_DROP_COUNT; i++)
            printf("%s\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", i ? "," : "",
                   vx_xdp_drop_name(i), c->dropped[i].packets, c->dropped[i].bytes);
        printf("}}\n");
        return;
    }
    printf("interface %s mode %s prog %u port %u rate %u/s burst %u blocked %zu\n", st->ifname,
           vx_xdp_mode_name(st->mode), st->prog_id, st->limits.node_port, st->limits.udp_rate_pps,
           st->limits.udp_burst, st->nblocked);
    /* One "pass.CLASS" / "drop.REASON" line each: easy for shell tests. */
    for (int i = 0; i < VX_XDP_CLASS_COUNT; i++)
        printf("pass.%s %" PRIu64 " %" PRIu64 "\n", vx_xdp_class_name(i), c->passed[i].packets,
               c->passed[i].bytes);
    for (int i = 0; i < VX_XDP_DROP_COUNT; i++)
        printf("drop.%s %" PRIu64 " %" PRIu64 "\n", vx_xdp_drop_name(i), c->dropped[i].packets,
               c->dropped[i].bytes);
}

int main(int argc, char **argv)
{
    struct vx_xdp_limits lim;
    struct vx_xdp *x = NULL;
    const char *cmd, *ifname;
    int err = 0, json = 0;

    vx_log_set_ident("vx6-xdpctl");
    if (getenv("VX6_LOG"))
        vx_log_configure(getenv("VX6_LOG"));
    if (argc < 3) {
        usage(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    cmd = argv[1];
    ifname = argv[2];
    vx_xdp_limits_default(&lim);

    if (strcmp(cmd, "attach") == 0) {
        enum vx_xdp_mode mode = VX_XDP_MODE_NATIVE;
        int i = 3;

        if (i < argc && strcmp(argv[i], "native") == 0)
            i++;
        else if (i < argc && strcmp(argv[i], "generic") == 0)
            mode = VX_XDP_MODE_GENERIC, i++;
        if (parse_limits(argc, argv, i, &lim, NULL) < 0) {
            usage(stderr);
            return 2;
        }
        if ((err = vx_xdp_attach(ifname, mode, &lim, &x)) == 0)
            printf("attached to %s in %s mode\n", ifname, vx_xdp_mode_name(mode));
        vx_xdp_close(x); /* stays attached */
        return report(err);
    }

    if ((err = vx_xdp_open(ifname, &x)) < 0)
        return report(err);

    if (strcmp(cmd, "detach") == 0) {
        err = vx_xdp_detach(x);
        x = NULL;
    } else if (strcmp(cmd, "status") == 0) {
        struct vx_xdp_status st;

        if (parse_limits(argc, argv, 3, &lim, &json) < 0)
            goto usage;
        if ((err = vx_xdp_status(x, &st)) == 0)
            print_status(&st, json);
    } else if (strcmp(cmd, "limits") == 0) {
        struct vx_xdp_status st;

        if ((err = vx_xdp_status(x, &st)) == 0) {
            lim = st.limits;
            if (parse_limits(argc, argv, 3, &lim, NULL) < 0)
                goto usage;
            err = vx_xdp_set_limits(x, &lim);
        }
    } else if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0) {
        if (argc != 4)
            goto usage;
        err = cmd[0] == 'b' ? vx_xdp_block(x, argv[3]) : vx_xdp_unblock(x, argv[3]);
    } else if (strcmp(cmd, "blocklist") == 0) {
        struct vx_xdp_block_entry e[256];
        int n = vx_xdp_block_list(x, e, 256);

        for (int i = 0; i < n && i < 256; i++)
            printf("%s %" PRIu64 "\n", e[i].prefix, e[i].hits);
        if (n > 256)
            printf("... %d more\n", n - 256);
        err = n < 0 ? n : 0;
    } else {
        goto usage;
    }
    vx_xdp_close(x);
    return report(err);
usage:
    vx_xdp_close(x);
    usage(stderr);
    return 2;
}
