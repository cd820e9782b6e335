/* cli.h — shared state of the vx6 command-line tool's subcommands. */
#ifndef VX6_CLI_CLI_H
#define VX6_CLI_CLI_H

#include <stdbool.h>

/* Exit codes (vx6(1)). */
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1 /* the command failed, or vx6d is not reachable */
#define CLI_EXIT_USAGE 2 /* bad command line */

struct cli {
    const char *prog;   /* "vx6" */
    const char *socket; /* -s; NULL: from the config */
    const char *config; /* -c; NULL: the default file if present */
    bool json;          /* --json */
    char socket_buf[4096];
};

/* The control socket to use: -s, else control_socket from -c FILE (or the
 * default config file if it exists), else the built-in default.  NULL
 * after printing an error. */
const char *cli_socket_path(struct cli *g);
/* The config (-c FILE, else the default file if readable, else built-in
 * defaults), or NULL after printing an error.  Free with vx_config_free(). */
struct vx_config;
struct vx_config *cli_load_config(struct cli *g);
/* The data directory from the config (as cli_socket_path()), or NULL after
 * printing an error.  Returns a malloc'd string. */
char *cli_data_dir(struct cli *g);

/* Send cmd with args to vx6d and print the answer.  Returns an exit code. */
int cli_daemon_call(struct cli *g, const char *cmd, int argc, char *const argv[]);

/* Parse the options shared by read commands (--json, -h) from argv[1..]
 * (argv[0] is the subcommand).  Returns the index of the first operand,
 * or -1 after printing usage (exit code in *exit_code). */
int cli_common_opts(struct cli *g, int argc, char **argv, const char *usage, int *exit_code);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_status(struct cli *g, int argc, char **argv);
int cmd_id(struct cli *g, int argc, char **argv);
int cmd_keygen(struct cli *g, int argc, char **argv);
int cmd_loglevel(struct cli *g, int argc, char **argv);
int cmd_reload(struct cli *g, int argc, char **argv);
int cmd_stop(struct cli *g, int argc, char **argv);
int cmd_hidden(struct cli *g, int argc, char **argv);
int cmd_services(struct cli *g, int argc, char **argv);
int cmd_forwards(struct cli *g, int argc, char **argv);
int cmd_connect(struct cli *g, int argc, char **argv);
int cmd_disconnect(struct cli *g, int argc, char **argv);
/* disco_cmds.c */
int cmd_resolve(struct cli *g, int argc, char **argv);
int cmd_trust(struct cli *g, int argc, char **argv);
int cmd_peers(struct cli *g, int argc, char **argv);
int cmd_publish(struct cli *g, int argc, char **argv); /* also unpublish */
int cmd_alias(struct cli *g, int argc, char **argv);
int cmd_ebpf(struct cli *g, int argc, char **argv);

#endif
