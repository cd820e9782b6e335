/* key_cmds.c — vx6 id and keygen: identity keys, offline or from vx6d. */
#include "cli/cli.h"
#include "crypto/identity.h"
#include "daemon/daemon.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Print an identity exactly as vx6d's "id" command does; file (if not NULL)
 * is added to the JSON form. */
static void print_identity(const struct cli *g, const struct vx_identity *id, const char *file)
{
    char node[VX_NODE_ID_STRLEN + 1], pk[2 * VX_PK_LEN + 1];

    vx_node_id_to_str(id->node_id, node, sizeof(node));
    hex(id->pk, VX_PK_LEN, pk);
    if (g->json) {
        struct vx_json *j = vx_json_new();
        vx_json_obj_begin(j);
        vx_json_kv_str(j, "node_id", node);
        vx_json_kv_str(j, "public_key", pk);
        if (file)
            vx_json_kv_str(j, "file", file);
        vx_json_obj_end(j);
        printf("%s\n", vx_json_data(j, NULL));
        vx_json_free(j);
        return;
    }
    printf("node ID:    %s\npublic key: %s\n", node, pk);
}

static void key_error(const struct cli *g, const char *path, int rc)
{
    struct stat st;
    switch (rc) {
    case VX_ERR_NOTFOUND:
        fprintf(stderr, "%s: cannot read key file %s: No such file or directory\n", g->prog, path);
        break;
    case VX_ERR_PERM:
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            fprintf(stderr,
                    "%s: key file %s is readable by other users (mode %03o); fix with "
                    "'chmod 600 %s'\n",
                    g->prog, path, (unsigned)(st.st_mode & 0777), path);
        else
            fprintf(stderr, "%s: %s is not a regular file\n", g->prog, path);
        break;
    case VX_ERR_CORRUPT:
        fprintf(stderr, "%s: %s is not a valid vx6 key file (damaged or wrong format)\n", g->prog,
                path);
        break;
    case VX_ERR_SYS:
        fprintf(stderr, "%s: cannot read key file %s: %s\n", g->prog, path, strerror(errno));
        break;
    default:
        fprintf(stderr, "%s: %s: %s\n", g->prog, path, vx_strerror(rc));
        break;
    }
}

int cmd_id(struct cli *g, int argc, char **argv)
{
    static const char u[] = "id [--json] [--key FILE]";
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"key", required_argument, NULL, 'k'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *key = NULL;
    struct vx_identity id;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'k':
            key = optarg;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, u);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, u);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        return CLI_EXIT_USAGE;
    }
    if (!key)
        return cli_daemon_call(g, "id", 0, NULL);
    rc = vx_identity_load(&id, key);
    if (rc < 0) {
        key_error(g, key, rc);
        return CLI_EXIT_FAIL;
    }
    print_identity(g, &id, NULL);
    vx_identity_wipe(&id);
    return CLI_EXIT_OK;
}

int cmd_keygen(struct cli *g, int argc, char **argv)
{
    static const char u[] = "keygen [--json] [-o FILE] [--force]";
    static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'},
            {"output", required_argument, NULL, 'o'},
            {"force", no_argument, NULL, 'f'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    char *path = NULL, *dir = NULL;
    bool force = false;
    struct vx_identity id;
    int c, rc, ex = CLI_EXIT_FAIL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g->json = true;
            break;
        case 'o':
            free(path);
            path = strdup(optarg);
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            printf("Usage: %s %s\n", g->prog, u);
            free(path);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Usage: %s %s\n", g->prog, u);
            free(path);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "Usage: %s %s\n", g->prog, u);
        free(path);
        return CLI_EXIT_USAGE;
    }
    if (!path) {
        /* the daemon's own key: DATA_DIR/identity.key */
        size_t n;
        dir = cli_data_dir(g);
        if (!dir)
            goto out;
        if (vx_mkdir_p(dir, 0700) < 0) {
            fprintf(stderr, "%s: cannot create %s: %s\n", g->prog, dir, strerror(errno));
            goto out;
        }
        n = strlen(dir) + sizeof(VX_IDENTITY_FILENAME) + 1;
        path = malloc(n);
        if (!path)
            abort();
        vx_path_join(path, n, dir, VX_IDENTITY_FILENAME);
    }
    if (vx_identity_generate(&id) < 0) {
        fprintf(stderr, "%s: cannot generate a key\n", g->prog);
        goto out;
    }
    rc = vx_identity_save(&id, path, force);
    if (rc == VX_ERR_EXISTS) {
        fprintf(stderr,
                "%s: %s already exists; not overwriting it (that would change the node's "
                "identity). Use --force to replace it.\n",
                g->prog, path);
    } else if (rc < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", g->prog, path,
                rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
    } else {
        print_identity(g, &id, path);
        if (!g->json)
            fprintf(stderr, "%s: wrote %s (mode 0600)\n", g->prog, path);
        ex = CLI_EXIT_OK;
    }
    vx_identity_wipe(&id);
out:
    free(dir);
    free(path);
    return ex;
}
