/* fuzz_control.c — the control socket's request-line parser on arbitrary
 * client bytes, and the command table behind it.
 *
 * A request that parses must have a valid command and at most
 * VX_CTL_MAX_ARGS arguments without line breaks; vx_ctl_request_format()
 * must turn it back into a line that parses to the same request (or say
 * VX_ERR_TOOBIG when escaping made it too long).  The request then runs
 * through a table with "help" and an echo command, as the daemon would; the
 * response must be "OK\n..." or one "ERR NAME message\n" line.
 */
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "lib/err.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmd_echo(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    (void)arg;
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_arr_begin(j);
        for (int i = 0; i < req->argc; i++)
            vx_json_str(j, req->argv[i]);
        vx_json_arr_end(j);
        return 0;
    }
    for (int i = 0; i < req->argc; i++)
        vx_ctl_reply_printf(r, "%s\n", req->argv[i]);
    return 0;
}

static struct vx_control *ctl(void)
{
    static struct vx_control *c;
    static const struct vx_ctl_command echo = {
            .name = "echo",
            .args = "ARG...",
            .help = "print the arguments",
            .min_args = 0,
            .max_args = VX_CTL_MAX_ARGS,
            .fn = cmd_echo,
    };
    if (!c) {
        vx_log_set_level(VX_LOG_NONE);
        c = vx_control_new(ev_default_loop(0));
        if (vx_control_register(c, &echo, NULL) != 0)
            abort();
    }
    return c;
}

static bool same(const struct vx_ctl_request *a, const struct vx_ctl_request *b)
{
    if (a->json != b->json || a->argc != b->argc || strcmp(a->cmd, b->cmd) != 0)
        return false;
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], b->argv[i]) != 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vx_ctl_request req, again;
    static char line[VX_CTL_MAX_REQUEST + 1];
    char err[160], *out = NULL;
    int rc, n;

    err[0] = '\0';
    rc = vx_ctl_request_parse(&req, (const char *)data, size, err, sizeof(err));
    if (rc != 0) {
        if ((rc != VX_ERR_INVAL && rc != VX_ERR_TOOBIG) || !err[0] || strlen(err) >= sizeof(err))
            abort();
        return 0;
    }
    if (!req.cmd || !req.cmd[0] || strlen(req.cmd) > VX_CTL_MAX_NAME || req.argc < 0 ||
        req.argc > VX_CTL_MAX_ARGS)
        abort();
    for (int i = 0; i < req.argc; i++)
        if (!req.argv[i] || strpbrk(req.argv[i], "\r\n"))
            abort();

    n = vx_ctl_request_format(line, sizeof(line), req.json, req.cmd, req.argc, req.argv);
    if (n == VX_ERR_TOOBIG) {
        /* only when quoting grew the line past the limit */
        if (size < VX_CTL_MAX_REQUEST / 3)
            abort();
    } else if (n <= 0 || (size_t)n > VX_CTL_MAX_REQUEST || line[n - 1] != '\n' ||
               vx_ctl_request_parse(&again, line, (size_t)n, err, sizeof(err)) != 0 ||
               !same(&req, &again)) {
        abort();
    }

    rc = vx_control_execute(ctl(), &req, &out);
    if (rc == VX_CTL_PENDING || !out)
        abort();
    if (rc == 0 ? strncmp(out, "OK\n", 3) != 0
                : strncmp(out, "ERR VX_ERR_", 11) != 0 ||
                          strchr(out, '\n') != out + strlen(out) - 1)
        abort();
    free(out);
    return 0;
}
