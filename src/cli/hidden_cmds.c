/* hidden_cmds.c — vx6 hidden: hidden-service addresses, offline from the
 * key files in DATA_DIR/hidden (no daemon needed); `hidden status` asks the
 * running daemon. */
#include "cli/cli.h"
#include "daemon/config.h"
#include "hidden/hsaddr.h"
#include "lib/err.h"
#include "lib/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "hidden address [--json] [--create] NAME\n"
                                 "       hidden list [--json]\n"
                                 "       hidden status [--json]";

static const struct vx_cfg_service *find_service(const struct vx_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_services; i++)
        if (strcmp(cfg->services[i].name, name) == 0)
            return &cfg->services[i];
    return NULL;
}

/* ADDRESS of NAME into addr; create the key when asked.  Prints errors. */
static int address_of(const struct cli *g, const char *data_dir, const char *name, int create,
                      char *addr, size_t cap, char *path, size_t pcap, int quiet_missing)
{
    struct vx_identity id;
    int created = 0, rc;

    rc = vx_hs_key_path(path, pcap, data_dir, name);
    if (rc == 0)
        rc = vx_hs_key_load(&id, data_dir, name, create, &created);
    if (rc == 0) {
        rc = vx_hsaddr_format(id.pk, addr, cap);
        vx_identity_wipe(&id);
    }
    (void)created; /* the library logs the creation */
    if (rc == VX_ERR_NOTFOUND && quiet_missing)
        return rc;
    switch (rc) {
    case 0:
        break;
    case VX_ERR_BADADDR:
        fprintf(stderr, "%s: '%s' is not a service name\n", g->prog, name);
        break;
    case VX_ERR_NOTFOUND:
        fprintf(stderr,
                "%s: hidden service %s has no key yet (%s); create it with "
                "'%s hidden address --create %s'\n",
                g->prog, name, path, g->prog, name);
        break;
    case VX_ERR_PERM:
        fprintf(stderr, "%s: %s must be readable by its owner only (chmod 600 %s)\n", g->prog, path,
                path);
        break;
    case VX_ERR_CORRUPT:
        fprintf(stderr, "%s: %s is not a valid vx6 key file\n", g->prog, path);
        break;
    case VX_ERR_SYS:
        fprintf(stderr, "%s: %s: %s\n", g->prog, path, strerror(errno));
        break;
    default:
        fprintf(stderr, "%s: %s: %s\n", g->prog, path, vx_strerror(rc));
        break;
    }
    return rc;
}

static int hidden_address(struct cli *g, struct vx_config *cfg, const char *name, int create)
{
    char addr[VX_HSADDR_LEN + 1], path[4096];
    const struct vx_cfg_service *s = find_service(cfg, name);

    if (!s || !s->hidden)
        fprintf(stderr, "%s: warning: %s is not a hidden service in the configuration%s\n", g->prog,
                name, create ? "" : " (showing its key file anyway)");
    if (address_of(g, cfg->data_dir, name, create, addr, sizeof(addr), path, sizeof(path), 0) < 0)
        return CLI_EXIT_FAIL;
    if (g->json) {
        struct vx_json *j = vx_json_new();
        char host[VX_HSADDR_LEN + 8];
        snprintf(host, sizeof(host), "%s.vx6", addr);
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "name", name);
        vx_json_kv_str(j, "address", host);
        vx_json_kv_str(j, "key_file", path);
        vx_json_obj_end(j);
        printf("%s\n", vx_json_data(j, NULL));
        vx_json_free(j);
    } else {
        printf("%s.vx6\n", addr);
    }
    return CLI_EXIT_OK;
}

static int hidden_list(struct cli *g, struct vx_config *cfg)
{
    struct vx_json *j = g->json ? vx_json_new() : NULL;
    char addr[VX_HSADDR_LEN + 1], path[4096], host[VX_HSADDR_LEN + 8];
    int ex = CLI_EXIT_OK;

    if (j)
        vx_json_arr_begin(j);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct vx_cfg_service *s = &cfg->services[i];
        int rc;
        if (!s->hidden)
            continue;
        rc = address_of(g, cfg->data_dir, s->name, 0, addr, sizeof(addr), path, sizeof(path), 1);
        if (rc < 0 && rc != VX_ERR_NOTFOUND)
            ex = CLI_EXIT_FAIL;
        if (rc == 0)
            snprintf(host, sizeof(host), "%s.vx6", addr);
        if (j) {
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "name", s->name);
            vx_json_kv_str(j, "address", rc == 0 ? host : NULL);
            vx_json_obj_end(j);
        } else {
            printf("%-20s %s\n", s->name, rc == 0 ? host : "(no key yet)");
        }
    }
    if (j) {
        vx_json_arr_end(j);
        printf("%s\n", vx_json_data(j, NULL));
        vx_json_free(j);
    }
    return ex;
}

int cmd_hidden(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"create", no_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct vx_config *cfg;
    int c, create = 0, ex;
    const char *verb;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'c':
            create = 1;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_USAGE;
        }
    }
    /* options may also follow the verb */
    if (optind >= argc) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
        return CLI_EXIT_USAGE;
    }
    verb = argv[optind];
    argv += optind;
    argc -= optind;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'c':
            create = 1;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_USAGE;
        }
    }
    if (!((strcmp(verb, "address") == 0 && optind == argc - 1) ||
          (strcmp(verb, "list") == 0 && optind == argc && !create) ||
          (strcmp(verb, "status") == 0 && optind == argc && !create))) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(verb, "status") == 0) {
        char *args[1] = {(char *)"status"};
        return cli_daemon_call(g, "hidden", 1, args);
    }
    cfg = cli_load_config(g);
    if (!cfg)
        return CLI_EXIT_FAIL;
    if (strcmp(verb, "list") == 0)
        ex = hidden_list(g, cfg);
    else
        ex = hidden_address(g, cfg, argv[optind], create);
    vx_config_free(cfg);
    return ex;
}
