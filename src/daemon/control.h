/* control.h — vx6d's control socket: a UNIX stream socket speaking a small
 * line-based request/response protocol, and an extensible command table.
 *
 * Protocol (one request per connection; also documented in vx6d(8)):
 *
 *   request  = *(FLAG SP) COMMAND *(SP ARG) [CR] LF     at most 4096 bytes
 *   FLAG     = "+json"                 body as one JSON document
 *   COMMAND  = 1*(a-z / 0-9 / "-")
 *   ARG      = a run of bytes other than SP, HTAB, '"', CR, LF
 *            / '"' *(any byte but '"' and '\', or '\' followed by any byte) '"'
 *
 *   response = "OK" LF body                             success; body until EOF
 *            / "ERR" SP ERRNAME SP message LF           failure; no body
 *
 * ERRNAME is the symbolic VX_ERR_* name (vx_errname()), so a client can tell
 * "no such command" (VX_ERR_NOTFOUND) from "bad arguments" (VX_ERR_INVAL).
 * The server closes the connection after the response.  A client that sends
 * nothing for VX_CTL_IDLE_TIMEOUT_MS is closed; a request longer than
 * VX_CTL_MAX_REQUEST is answered "ERR VX_ERR_TOOBIG".
 *
 * Modules add commands with vx_control_register(); a handler fills a reply
 * (text with vx_ctl_reply_printf() or, when the client asked for +json, one
 * JSON document through vx_ctl_reply_json()) and returns 0, or returns
 * vx_ctl_reply_error(r, VX_ERR_*, fmt, ...).  A handler that must wait (a DHT
 * lookup) returns VX_CTL_PENDING, keeps the reply and calls
 * vx_ctl_reply_finish() later; if the client goes away or the request times
 * out first, the cancel callback set with vx_ctl_reply_on_cancel() runs and
 * the reply must not be touched after that.
 */
#ifndef VX6_DAEMON_CONTROL_H
#define VX6_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/json.h"

struct ev_loop;

#define VX_CTL_MAX_REQUEST        4096  /* bytes, including the LF */
#define VX_CTL_MAX_ARGS           32    /* arguments after the command */
#define VX_CTL_MAX_CLIENTS        64    /* concurrent control connections */
#define VX_CTL_IDLE_TIMEOUT_MS    5000  /* to send the request, and to take the response */
#define VX_CTL_PENDING_TIMEOUT_MS 60000 /* for a VX_CTL_PENDING handler to finish */
#define VX_CTL_MAX_NAME           31    /* command name length */
#define VX_CTL_PENDING            1     /* handler return: reply comes later */

/* A parsed request.  Pointers point into buf. */
struct vx_ctl_request {
    bool json;
    char *cmd;
    int argc;
    char *argv[VX_CTL_MAX_ARGS]; /* arguments after the command */
    char buf[VX_CTL_MAX_REQUEST];
};

/* Parse one request line (the trailing LF or CRLF is optional).  Pure.
 * 0 on success; VX_ERR_TOOBIG if longer than VX_CTL_MAX_REQUEST or with too
 * many arguments; VX_ERR_INVAL for anything malformed.  On failure a message
 * for the client is written to err. */
int vx_ctl_request_parse(struct vx_ctl_request *req, const char *line, size_t len, char *err,
                         size_t errlen);

/* Write a request line (with LF) that vx_ctl_request_parse() turns back into
 * cmd and argv, quoting arguments where needed.  Returns its length, or
 * VX_ERR_TOOBIG if it does not fit in cap or in VX_CTL_MAX_REQUEST,
 * VX_ERR_INVAL if cmd is not a valid command name. */
int vx_ctl_request_format(char *out, size_t cap, bool json, const char *cmd, int argc,
                          char *const argv[]);

struct vx_ctl_reply;

/* Append text to the body (text mode). */
void vx_ctl_reply_printf(struct vx_ctl_reply *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* True when the client asked for JSON. */
bool vx_ctl_reply_is_json(const struct vx_ctl_reply *r);
/* The JSON writer for the body (write exactly one document). */
struct vx_json *vx_ctl_reply_json(struct vx_ctl_reply *r);
/* Mark the reply as failed with a VX_ERR_* code and a one-line message for
 * the user (a body written so far is discarded).  Returns err. */
int vx_ctl_reply_error(struct vx_ctl_reply *r, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* For handlers that returned VX_CTL_PENDING: send the reply now.  r is
 * invalid afterwards. */
void vx_ctl_reply_finish(struct vx_ctl_reply *r);
/* For handlers that returned VX_CTL_PENDING: fn(arg) runs if the request is
 * abandoned before vx_ctl_reply_finish(); r is invalid afterwards. */
void vx_ctl_reply_on_cancel(struct vx_ctl_reply *r, void (*fn)(void *arg), void *arg);

typedef int (*vx_ctl_fn)(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg);

struct vx_ctl_command {
    const char *name; /* [a-z0-9-], at most VX_CTL_MAX_NAME characters */
    const char *args; /* argument synopsis for help and usage errors ("SPEC"), or NULL */
    const char *help; /* one line */
    int min_args, max_args;
    vx_ctl_fn fn;
};

struct vx_control;

/* A control server on loop.  Never NULL.  "help" is registered already. */
struct vx_control *vx_control_new(struct ev_loop *loop);
/* Closes the listener (removing the socket file) and every client.  Accepts NULL. */
void vx_control_free(struct vx_control *c);

/* Add a command.  The struct is copied; the strings it points to must
 * outlive the registration (string literals).  arg is passed to fn.
 * 0, VX_ERR_EXISTS if the name is taken, VX_ERR_INVAL for a bad name or
 * argument counts, VX_ERR_LIMIT if the table is full. */
int vx_control_register(struct vx_control *c, const struct vx_ctl_command *cmd, void *arg);
/* Remove a command (a module going away).  0 or VX_ERR_NOTFOUND. */
int vx_control_unregister(struct vx_control *c, const char *name);
/* The registered command called name, or NULL. */
const struct vx_ctl_command *vx_control_lookup(const struct vx_control *c, const char *name);

/* Bind and listen on path: creates the parent directory (0700) if needed,
 * binds with mode 0600, replaces a stale socket left by a crashed daemon.
 * VX_ERR_EXISTS when another process answers on path (a running vx6d) or
 * path is not a socket; VX_ERR_TOOBIG if path does not fit sun_path;
 * VX_ERR_SYS otherwise (errno set).  On failure *why says what failed. */
int vx_control_listen(struct vx_control *c, const char *path, const char **why);
/* Stop accepting and remove the socket file (if it is still ours).
 * Connected clients may finish.  Idempotent. */
void vx_control_close_listener(struct vx_control *c);
/* The path listened on, or NULL. */
const char *vx_control_path(const struct vx_control *c);
/* Serve an already connected stream socket (used by accept; tests hand
 * in one end of a socketpair).  Takes ownership of fd.  0 or VX_ERR_LIMIT
 * (fd is then closed). */
int vx_control_serve_fd(struct vx_control *c, int fd);
/* Change the idle timeout for new clients (default VX_CTL_IDLE_TIMEOUT_MS). */
void vx_control_set_idle_timeout(struct vx_control *c, unsigned ms);
/* Open client connections. */
size_t vx_control_n_clients(const struct vx_control *c);

/* Run a parsed request through the command table and render the response
 * (status line + body) into a malloc'd string *out.  Returns the handler's
 * status: 0, a negative VX_ERR_*, or VX_CTL_PENDING (then *out is NULL and
 * the reply stays owned by the handler; finishing it discards the result).
 * For tests and in-process callers. */
int vx_control_execute(struct vx_control *c, const struct vx_ctl_request *req, char **out);

#endif
