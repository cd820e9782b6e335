/* hidden_cmds.c — vx6 hidden: hidden-service addresses, offline from the
 * key files in DATA_DIR/hidden (no daemon needed), the public key a client
 * gives an owner for client authorization (auth-key, offline); `hidden
 * status` asks the running daemon. */
#include "cli/cli.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "hidden/hsaddr.h"
#include "lib/fileio.h"
#include "lib/err.h"
#include "lib/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "hidden address [--json] [--create] NAME\n"
                                 "       hidden list [--json]\n"
                                 "       hidden auth-key [--json] [ADDRESS | --key FILE]\n"
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

/* The public key of the client-authorization key for ADDRESS (hidden_auth),
 * of FILE, or of the node's identity: what the owner lists in
 * authorized_clients. */
static int hidden_auth_key(struct cli *g, struct vx_config *cfg, const char *address,
                           const char *file)
{
    char path[4096], pk[2 * VX_PK_LEN + 1];
    struct vx_identity id;
    int rc;

    if (address) {
        const struct vx_cfg_hidden_auth *a = vx_config_find_hidden_auth(cfg, address);
        uint8_t apk[VX_PK_LEN];
        if (vx_hsaddr_parse(address, apk) < 0) {
            fprintf(stderr, "%s: '%s' is not a hidden-service address\n", g->prog, address);
            return CLI_EXIT_FAIL;
        }
        if (!a) {
            fprintf(stderr,
                    "%s: %s has no hidden_auth entry in %s; add one (address: ..., key: FILE or "
                    "identity)\n",
                    g->prog, address, cfg->filename);
            return CLI_EXIT_FAIL;
        }
        file = a->key_file;
    }
    if (file)
        snprintf(path, sizeof(path), "%s", file);
    else if (vx_path_join(path, sizeof(path), cfg->data_dir, VX_IDENTITY_FILENAME) < 0)
        return CLI_EXIT_FAIL;
    rc = vx_identity_load(&id, path);
    if (rc < 0) {
        if (rc == VX_ERR_NOTFOUND && !file)
            fprintf(stderr, "%s: the node has no identity yet (%s); start vx6d once\n", g->prog,
                    path);
        else if (rc == VX_ERR_PERM)
            fprintf(stderr, "%s: %s must be readable by its owner only (chmod 600 %s)\n", g->prog,
                    path, path);
        else
            fprintf(stderr, "%s: %s: %s\n", g->prog, path,
                    rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < VX_PK_LEN; i++)
        snprintf(pk + 2 * i, 3, "%02x", id.pk[i]);
    vx_identity_wipe(&id);
    if (g->json) {
        struct vx_json *j = vx_json_new();
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "public_key", pk);
        vx_json_kv_str(j, "key_file", path);
        vx_json_kv_bool(j, "identity", !file);
        vx_json_obj_end(j);
        printf("%s\n", vx_json_data(j, NULL));
        vx_json_free(j);
    } else {
        printf("%s\n", pk);
    }
    return CLI_EXIT_OK;
}

/* Options before and after the verb.  -1: go on, else an exit code. */
static int parse_opts(struct cli *g, int argc, char **argv, int *create, const char **key)
{
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"create", no_argument, NULL, 'c'},
            {"key", required_argument, NULL, 'k'},
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
        case 'c':
            *create = 1;
            break;
        case 'k':
            *key = optarg;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

int cmd_hidden(struct cli *g, int argc, char **argv)
{
    struct vx_config *cfg;
    int create = 0, ex;
    const char *verb, *key = NULL;

    if ((ex = parse_opts(g, argc, argv, &create, &key)) >= 0)
        return ex;
    /* options may also follow the verb */
    if (optind >= argc) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
        return CLI_EXIT_USAGE;
    }
    verb = argv[optind];
    argv += optind;
    argc -= optind;
    if ((ex = parse_opts(g, argc, argv, &create, &key)) >= 0)
        return ex;
    if (!((strcmp(verb, "address") == 0 && optind == argc - 1 && !key) ||
          (strcmp(verb, "list") == 0 && optind == argc && !create && !key) ||
          (strcmp(verb, "auth-key") == 0 && optind >= argc - 1 && !create &&
           !(key && optind < argc)) ||
          (strcmp(verb, "status") == 0 && optind == argc && !create && !key))) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, usage_text);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(verb, "status") == 0) {
        char *args[1] = {(char *)"status"};
        return cli_daemon_call(g, "hidden", 1, args);
    }
    if (strcmp(verb, "auth-key") == 0 && key) /* no config needed */
        return hidden_auth_key(g, NULL, NULL, key);
    cfg = cli_load_config(g);
    if (!cfg)
        return CLI_EXIT_FAIL;
    if (strcmp(verb, "list") == 0)
        ex = hidden_list(g, cfg);
    else if (strcmp(verb, "auth-key") == 0)
        ex = hidden_auth_key(g, cfg, optind < argc ? argv[optind] : NULL, NULL);
    else
        ex = hidden_address(g, cfg, argv[optind], create);
    vx_config_free(cfg);
    return ex;
}
