/* control.c — the control socket server and command table. */
#include "daemon/control.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_COMMANDS 128

struct cmd_entry {
    struct vx_ctl_command cmd;
    void *arg;
};

enum conn_state {
    CS_READING, /* waiting for the request line */
    CS_PENDING, /* a handler answers later */
    CS_WRITING, /* sending the response */
    CS_CLOSED   /* marked; freed from the check watcher */
};

struct conn;

struct vx_ctl_reply {
    struct conn *conn; /* NULL: detached (vx_control_execute) */
    bool json;
    int err;
    char errmsg[256];
    char *text;
    size_t text_len, text_cap;
    struct vx_json *j;
    void (*cancel_fn)(void *);
    void *cancel_arg;
};

struct conn {
    struct vx_control *ctl;
    enum conn_state state;
    int fd;
    ev_io io;
    ev_timer timer;
    char in[VX_CTL_MAX_REQUEST + 1];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    struct vx_ctl_reply *reply; /* while CS_PENDING */
    struct conn *prev, *next;
};

struct vx_control {
    struct ev_loop *loop;
    struct cmd_entry cmds[MAX_COMMANDS];
    size_t n_cmds;
    int lfd;
    ev_io accept_io;
    ev_check reaper;
    char *path;
    dev_t sock_dev;
    ino_t sock_ino;
    struct conn *conns;
    size_t n_conns;
    size_t n_dead;
    double idle_timeout; /* seconds */
};

/* ---- request parsing --------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > VX_CTL_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int vx_ctl_request_parse(struct vx_ctl_request *req, const char *line, size_t len, char *err,
                         size_t errlen)
{
    size_t i = 0, o = 0;
    char *tokens[VX_CTL_MAX_ARGS + 8];
    int ntok = 0;

    memset(req, 0, sizeof(*req));
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len >= VX_CTL_MAX_REQUEST) {
        set_err(err, errlen, "request too long (at most %d bytes)", VX_CTL_MAX_REQUEST - 1);
        return VX_ERR_TOOBIG;
    }
    /* Tokenise into req->buf: each token NUL-terminated.  Unquoted tokens
     * and quoted strings are never longer than the input, so buf (the size
     * of the longest line) suffices. */
    while (i < len) {
        unsigned char c = (unsigned char)line[i];
        if (c == ' ' || c == '\t') {
            i++;
            continue;
        }
        if (ntok == (int)(sizeof(tokens) / sizeof(tokens[0]))) {
            set_err(err, errlen, "too many arguments (at most %d)", VX_CTL_MAX_ARGS);
            return VX_ERR_TOOBIG;
        }
        tokens[ntok++] = req->buf + o;
        if (c == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    set_err(err, errlen, "unterminated quoted argument");
                    return VX_ERR_INVAL;
                }
                c = (unsigned char)line[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (++i >= len) {
                        set_err(err, errlen, "unterminated quoted argument");
                        return VX_ERR_INVAL;
                    }
                    c = (unsigned char)line[i];
                }
                if (c == '\n' || c == '\r' || c == '\0') {
                    set_err(err, errlen, "control character in request");
                    return VX_ERR_INVAL;
                }
                req->buf[o++] = (char)c;
                i++;
            }
            if (i < len && line[i] != ' ' && line[i] != '\t') {
                set_err(err, errlen, "missing space after quoted argument");
                return VX_ERR_INVAL;
            }
        } else {
            while (i < len && line[i] != ' ' && line[i] != '\t') {
                c = (unsigned char)line[i];
                if (c < 0x20 || c == 0x7f || c == '"') {
                    set_err(err, errlen,
                            c == '"' ? "unexpected '\"' inside an argument"
                                     : "control character in request");
                    return VX_ERR_INVAL;
                }
                req->buf[o++] = (char)c;
                i++;
            }
        }
        req->buf[o++] = '\0';
    }

    int t = 0;
    for (; t < ntok && tokens[t][0] == '+'; t++) {
        if (strcmp(tokens[t], "+json") == 0)
            req->json = true;
        else {
            set_err(err, errlen, "unknown request flag '%.32s'", tokens[t]);
            return VX_ERR_INVAL;
        }
    }
    if (t == ntok) {
        set_err(err, errlen, "empty request");
        return VX_ERR_INVAL;
    }
    req->cmd = tokens[t++];
    if (!valid_name(req->cmd)) {
        set_err(err, errlen, "malformed command name");
        return VX_ERR_INVAL;
    }
    if (ntok - t > VX_CTL_MAX_ARGS) {
        set_err(err, errlen, "too many arguments (at most %d)", VX_CTL_MAX_ARGS);
        return VX_ERR_TOOBIG;
    }
    for (; t < ntok; t++)
        req->argv[req->argc++] = tokens[t];
    return 0;
}

static bool needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

int vx_ctl_request_format(char *out, size_t cap, bool json, const char *cmd, int argc,
                          char *const argv[])
{
    size_t n = 0;
#define PUTC(ch)                                                                                   \
    do {                                                                                           \
        if (n + 1 >= cap)                                                                          \
            return VX_ERR_TOOBIG;                                                                  \
        out[n++] = (ch);                                                                           \
    } while (0)

    if (!cmd || !valid_name(cmd))
        return VX_ERR_INVAL;
    if (argc < 0 || argc > VX_CTL_MAX_ARGS)
        return VX_ERR_TOOBIG;
    if (json)
        for (const char *p = "+json "; *p; p++)
            PUTC(*p);
    for (const char *p = cmd; *p; p++)
        PUTC(*p);
    for (int a = 0; a < argc; a++) {
        const char *s = argv[a];
        PUTC(' ');
        if (!needs_quotes(s)) {
            for (; *s; s++)
                PUTC(*s);
            continue;
        }
        PUTC('"');
        for (; *s; s++) {
            if (*s == '\n' || *s == '\r')
                return VX_ERR_INVAL;
            if (*s == '"' || *s == '\\')
                PUTC('\\');
            PUTC(*s);
        }
        PUTC('"');
    }
    PUTC('\n');
#undef PUTC
    out[n] = '\0';
    if (n > VX_CTL_MAX_REQUEST)
        return VX_ERR_TOOBIG;
    return (int)n;
}

/* ---- replies ----------------------------------------------------------- */

static struct vx_ctl_reply *reply_new(bool json)
{
    struct vx_ctl_reply *r = xcalloc(1, sizeof(*r));
    r->json = json;
    return r;
}

static void reply_free(struct vx_ctl_reply *r)
{
    if (!r)
        return;
    free(r->text);
    vx_json_free(r->j);
    free(r);
}

void vx_ctl_reply_printf(struct vx_ctl_reply *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if (r->text_len + (size_t)n + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 256;
        while (r->text_len + (size_t)n + 1 > cap)
            cap *= 2;
        char *p = realloc(r->text, cap);
        if (!p)
            abort();
        r->text = p;
        r->text_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(r->text + r->text_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->text_len += (size_t)n;
}

bool vx_ctl_reply_is_json(const struct vx_ctl_reply *r)
{
    return r->json;
}

struct vx_json *vx_ctl_reply_json(struct vx_ctl_reply *r)
{
    if (!r->j)
        r->j = vx_json_new();
    return r->j;
}

int vx_ctl_reply_error(struct vx_ctl_reply *r, int err, const char *fmt, ...)
{
    va_list ap;
    if (err >= 0)
        err = VX_ERR_INTERNAL;
    r->err = err;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
    /* the message goes on the status line: keep it one line */
    for (char *p = r->errmsg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return err;
}

void vx_ctl_reply_on_cancel(struct vx_ctl_reply *r, void (*fn)(void *arg), void *arg)
{
    r->cancel_fn = fn;
    r->cancel_arg = arg;
}

/* Status line + body as one malloc'd string. */
static char *reply_render(struct vx_ctl_reply *r, size_t *lenp)
{
    const char *body = "";
    size_t body_len = 0;
    char status[320];
    int sl;

    if (r->err == 0 && r->json) {
        if (!r->j || vx_json_finish(r->j) != 0)
            vx_ctl_reply_error(r, VX_ERR_INTERNAL, "command produced malformed JSON");
        else
            body = vx_json_data(r->j, &body_len);
    } else if (r->err == 0 && r->text) {
        body = r->text;
        body_len = r->text_len;
    }
    if (r->err)
        sl = snprintf(status, sizeof(status), "ERR %s %s\n", vx_errname(r->err),
                      r->errmsg[0] ? r->errmsg : vx_strerror(r->err));
    else
        sl = snprintf(status, sizeof(status), "OK\n");
    if (r->err) {
        body = "";
        body_len = 0;
    }
    bool nl = r->err == 0 && r->json; /* JSON documents end with a newline */
    size_t len = (size_t)sl + body_len + (nl ? 1 : 0);
    char *out = malloc(len + 1);
    if (!out)
        abort();
    memcpy(out, status, (size_t)sl);
    memcpy(out + sl, body, body_len);
    if (nl)
        out[sl + body_len] = '\n';
    out[len] = '\0';
    *lenp = len;
    return out;
}

/* ---- command table ----------------------------------------------------- */

static struct cmd_entry *find_cmd(const struct vx_control *c, const char *name)
{
    for (size_t i = 0; i < c->n_cmds; i++)
        if (strcmp(c->cmds[i].cmd.name, name) == 0)
            return (struct cmd_entry *)&c->cmds[i];
    return NULL;
}

int vx_control_register(struct vx_control *c, const struct vx_ctl_command *cmd, void *arg)
{
    if (!cmd || !cmd->name || !valid_name(cmd->name) || !cmd->fn || cmd->min_args < 0 ||
        cmd->max_args < cmd->min_args || cmd->max_args > VX_CTL_MAX_ARGS)
        return VX_ERR_INVAL;
    if (find_cmd(c, cmd->name))
        return VX_ERR_EXISTS;
    if (c->n_cmds == MAX_COMMANDS)
        return VX_ERR_LIMIT;
    c->cmds[c->n_cmds].cmd = *cmd;
    c->cmds[c->n_cmds].arg = arg;
    c->n_cmds++;
    return 0;
}

int vx_control_unregister(struct vx_control *c, const char *name)
{
    struct cmd_entry *e = find_cmd(c, name);
    if (!e)
        return VX_ERR_NOTFOUND;
    size_t i = (size_t)(e - c->cmds);
    memmove(&c->cmds[i], &c->cmds[i + 1], (c->n_cmds - i - 1) * sizeof(c->cmds[0]));
    c->n_cmds--;
    return 0;
}

const struct vx_ctl_command *vx_control_lookup(const struct vx_control *c, const char *name)
{
    struct cmd_entry *e = find_cmd(c, name);
    return e ? &e->cmd : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct cmd_entry *const *x = a, *const *y = b;
    return strcmp((*x)->cmd.name, (*y)->cmd.name);
}

static int cmd_help(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    struct vx_control *c = arg;
    const struct cmd_entry *sorted[MAX_COMMANDS];
    size_t n = 0;

    if (req->argc == 1) {
        struct cmd_entry *e = find_cmd(c, req->argv[0]);
        if (!e)
            return vx_ctl_reply_error(r, VX_ERR_NOTFOUND, "unknown command '%s'", req->argv[0]);
        sorted[n++] = e;
    } else {
        for (size_t i = 0; i < c->n_cmds; i++)
            sorted[n++] = &c->cmds[i];
        qsort(sorted, n, sizeof(sorted[0]), cmp_entry);
    }
    if (r->json) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_key(j, "commands");
        vx_json_arr_begin(j);
        for (size_t i = 0; i < n; i++) {
            vx_json_obj_begin(j);
            vx_json_kv_str(j, "name", sorted[i]->cmd.name);
            vx_json_kv_str(j, "args", sorted[i]->cmd.args ? sorted[i]->cmd.args : "");
            vx_json_kv_str(j, "help", sorted[i]->cmd.help ? sorted[i]->cmd.help : "");
            vx_json_obj_end(j);
        }
        vx_json_arr_end(j);
        vx_json_obj_end(j);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char syn[128];
        snprintf(syn, sizeof(syn), "%s%s%s", sorted[i]->cmd.name, sorted[i]->cmd.args ? " " : "",
                 sorted[i]->cmd.args ? sorted[i]->cmd.args : "");
        vx_ctl_reply_printf(r, "%-24s %s\n", syn, sorted[i]->cmd.help ? sorted[i]->cmd.help : "");
    }
    return 0;
}

/* Run req; r receives the result.  Returns 0, VX_ERR_* or VX_CTL_PENDING. */
static int dispatch(struct vx_control *c, const struct vx_ctl_request *req, struct vx_ctl_reply *r)
{
    struct cmd_entry *e = find_cmd(c, req->cmd);
    int rc;

    if (!e)
        return vx_ctl_reply_error(r, VX_ERR_NOTFOUND, "unknown command '%s' (try 'help')",
                                  req->cmd);
    if (req->argc < e->cmd.min_args || req->argc > e->cmd.max_args)
        return vx_ctl_reply_error(r, VX_ERR_INVAL, "usage: %s%s%s", e->cmd.name,
                                  e->cmd.args ? " " : "", e->cmd.args ? e->cmd.args : "");
    log_debug(LD_CONTROL, "control: %s (%d argument%s)%s", req->cmd, req->argc,
              req->argc == 1 ? "" : "s", req->json ? " json" : "");
    rc = e->cmd.fn(r, req, e->arg);
    if (rc == VX_CTL_PENDING)
        return rc;
    if (rc < 0 && r->err == 0)
        vx_ctl_reply_error(r, rc, "%s failed: %s", req->cmd, vx_strerror(rc));
    return r->err;
}

int vx_control_execute(struct vx_control *c, const struct vx_ctl_request *req, char **out)
{
    struct vx_ctl_reply *r = reply_new(req->json);
    size_t len;
    int rc = dispatch(c, req, r);

    *out = NULL;
    if (rc == VX_CTL_PENDING)
        return rc; /* detached: vx_ctl_reply_finish() frees it */
    *out = reply_render(r, &len);
    rc = r->err;
    reply_free(r);
    return rc;
}

/* ---- connections ------------------------------------------------------- */

static void conn_mark_closed(struct conn *k)
{
    struct vx_control *c = k->ctl;
    if (k->state == CS_CLOSED)
        return;
    if (k->state == CS_PENDING && k->reply) {
        struct vx_ctl_reply *r = k->reply;
        k->reply = NULL;
        if (r->cancel_fn)
            r->cancel_fn(r->cancel_arg);
        reply_free(r);
    }
    k->state = CS_CLOSED;
    ev_io_stop(c->loop, &k->io);
    ev_timer_stop(c->loop, &k->timer);
    if (k->fd >= 0) {
        close(k->fd); /* the client sees EOF now, not at the next loop turn */
        k->fd = -1;
    }
    c->n_dead++;
}

static void conn_free(struct conn *k)
{
    struct vx_control *c = k->ctl;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->n_conns--;
    if (k->fd >= 0)
        close(k->fd);
    free(k->out);
    free(k);
}

static void reaper_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct vx_control *c = w->data;
    struct conn *k = c->conns, *next;
    if (!c->n_dead)
        return;
    for (; k; k = next) {
        next = k->next;
        if (k->state == CS_CLOSED)
            conn_free(k);
    }
    c->n_dead = 0;
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void conn_start_write(struct conn *k, struct vx_ctl_reply *r)
{
    struct vx_control *c = k->ctl;
    k->out = reply_render(r, &k->out_len);
    k->out_off = 0;
    if (r->err)
        log_debug(LD_CONTROL, "control: answered error: %s", r->errmsg);
    reply_free(r);
    k->state = CS_WRITING;
    ev_io_stop(c->loop, &k->io);
    ev_io_set(&k->io, k->fd, EV_WRITE);
    ev_io_start(c->loop, &k->io);
    ev_timer_stop(c->loop, &k->timer);
    ev_timer_set(&k->timer, c->idle_timeout, 0.);
    ev_timer_start(c->loop, &k->timer);
}

void vx_ctl_reply_finish(struct vx_ctl_reply *r)
{
    struct conn *k = r->conn;
    if (!k) {
        reply_free(r);
        return;
    }
    k->reply = NULL;
    conn_start_write(k, r);
}

static void conn_handle_request(struct conn *k, size_t len)
{
    struct vx_ctl_request *req = malloc(sizeof(*req));
    struct vx_ctl_reply *r;
    char err[160];
    int rc;

    if (!req)
        abort();
    rc = vx_ctl_request_parse(req, k->in, len, err, sizeof(err));
    r = reply_new(rc == 0 && req->json);
    r->conn = k;
    if (rc < 0)
        vx_ctl_reply_error(r, rc, "bad request: %s", err);
    else if (dispatch(k->ctl, req, r) == VX_CTL_PENDING) {
        free(req);
        k->reply = r;
        k->state = CS_PENDING;
        ev_io_stop(k->ctl->loop, &k->io);
        ev_timer_stop(k->ctl->loop, &k->timer);
        ev_timer_set(&k->timer, VX_CTL_PENDING_TIMEOUT_MS / 1000.0, 0.);
        ev_timer_start(k->ctl->loop, &k->timer);
        return;
    }
    free(req);
    conn_start_write(k, r);
}

static void conn_read(struct conn *k)
{
    ssize_t n = read(k->fd, k->in + k->in_len, sizeof(k->in) - 1 - k->in_len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        conn_mark_closed(k);
        return;
    }
    if (n == 0) {
        /* EOF: a request without its LF still counts. */
        if (k->in_len == 0) {
            conn_mark_closed(k);
            return;
        }
        conn_handle_request(k, k->in_len);
        return;
    }
    char *nl = memchr(k->in + k->in_len, '\n', (size_t)n);
    k->in_len += (size_t)n;
    if (nl) {
        conn_handle_request(k, (size_t)(nl - k->in) + 1);
        return;
    }
    if (k->in_len >= VX_CTL_MAX_REQUEST) {
        struct vx_ctl_reply *r = reply_new(false);
        r->conn = k;
        vx_ctl_reply_error(r, VX_ERR_TOOBIG, "bad request: request too long (at most %d bytes)",
                           VX_CTL_MAX_REQUEST - 1);
        conn_start_write(k, r);
    }
}

static void conn_write(struct conn *k)
{
    ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        conn_mark_closed(k);
        return;
    }
    k->out_off += (size_t)n;
    if (k->out_off == k->out_len) {
        shutdown(k->fd, SHUT_WR);
        conn_mark_closed(k);
    }
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *k = w->data;
    if (k->state == CS_READING && (revents & EV_READ))
        conn_read(k);
    else if (k->state == CS_WRITING && (revents & EV_WRITE))
        conn_write(k);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *k = w->data;
    if (k->state == CS_PENDING) {
        struct vx_ctl_reply *r = k->reply;
        k->reply = NULL;
        if (r->cancel_fn)
            r->cancel_fn(r->cancel_arg);
        struct vx_ctl_reply *t = reply_new(false);
        t->conn = k;
        vx_ctl_reply_error(t, VX_ERR_TIMEOUT, "the command did not complete in time");
        reply_free(r);
        conn_start_write(k, t);
        return;
    }
    log_debug(LD_CONTROL, "control: closing idle client");
    conn_mark_closed(k);
}

int vx_control_serve_fd(struct vx_control *c, int fd)
{
    if (c->n_conns >= VX_CTL_MAX_CLIENTS) {
        static const char busy[] = "ERR VX_ERR_LIMIT too many control clients, try again\n";
        log_warn_rl(LD_CONTROL, "control: too many clients (%d), refusing one", VX_CTL_MAX_CLIENTS);
        (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
        return VX_ERR_LIMIT;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    struct conn *k = xcalloc(1, sizeof(*k));
    k->ctl = c;
    k->fd = fd;
    k->state = CS_READING;
    ev_io_init(&k->io, conn_io_cb, fd, EV_READ);
    k->io.data = k;
    ev_timer_init(&k->timer, conn_timer_cb, c->idle_timeout, 0.);
    k->timer.data = k;
    ev_io_start(c->loop, &k->io);
    ev_timer_start(c->loop, &k->timer);
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    c->n_conns++;
    return 0;
}

void vx_control_set_idle_timeout(struct vx_control *c, unsigned ms)
{
    c->idle_timeout = ms / 1000.0;
}

size_t vx_control_n_clients(const struct vx_control *c)
{
    size_t n = 0;
    for (const struct conn *k = c->conns; k; k = k->next)
        if (k->state != CS_CLOSED)
            n++;
    return n;
}

/* ---- listener ---------------------------------------------------------- */

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_control *c = w->data;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn_rl(LD_CONTROL, "control: accept failed: %s", strerror(errno));
            return;
        }
        vx_control_serve_fd(c, fd);
    }
}

struct vx_control *vx_control_new(struct ev_loop *loop)
{
    struct vx_control *c = xcalloc(1, sizeof(*c));
    static const struct vx_ctl_command help = {
            .name = "help",
            .args = "[COMMAND]",
            .help = "list the commands this daemon understands",
            .min_args = 0,
            .max_args = 1,
            .fn = cmd_help,
    };
    c->loop = loop;
    c->lfd = -1;
    c->idle_timeout = VX_CTL_IDLE_TIMEOUT_MS / 1000.0;
    ev_check_init(&c->reaper, reaper_cb);
    c->reaper.data = c;
    ev_check_start(loop, &c->reaper);
    ev_unref(loop); /* the reaper alone does not keep the loop alive */
    vx_control_register(c, &help, c);
    return c;
}

/* Is something accepting connections on path?  1 yes, 0 no (stale or
 * absent). */
static int socket_is_live(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;
    if (fd < 0)
        return 0;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return live;
}

int vx_control_listen(struct vx_control *c, const char *path, const char **why)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    char dir[sizeof(sa.sun_path)];
    mode_t old_umask;
    int fd, rc;

    *why = "";
    if (strlen(path) >= sizeof(sa.sun_path)) {
        *why = "path too long for a UNIX socket";
        return VX_ERR_TOOBIG;
    }
    strcpy(sa.sun_path, path);
    strcpy(dir, path);
    rc = vx_mkdir_p(dirname(dir), 0700);
    if (rc < 0) {
        *why = "cannot create its directory";
        return rc;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            *why = "a file that is not a socket is in the way";
            return VX_ERR_EXISTS;
        }
        if (socket_is_live(path)) {
            *why = "another vx6d is running and answering on it";
            return VX_ERR_EXISTS;
        }
        log_notice(LD_CONTROL, "removing stale control socket %s (left by a daemon that exited)",
                   path);
        if (unlink(path) < 0 && errno != ENOENT) {
            *why = "cannot remove the stale socket";
            return VX_ERR_SYS;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket() failed";
        return VX_ERR_SYS;
    }
    /* The socket file is created with mode 0600 from the start: no window in
     * which another user could connect. */
    old_umask = umask(0177);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_umask);
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        *why = "bind() failed";
        return VX_ERR_SYS;
    }
    if (listen(fd, 16) < 0 || stat(path, &st) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        *why = "listen() failed";
        return VX_ERR_SYS;
    }
    vx_control_close_listener(c);
    c->lfd = fd;
    c->path = strdup(path);
    if (!c->path)
        abort();
    c->sock_dev = st.st_dev;
    c->sock_ino = st.st_ino;
    ev_io_init(&c->accept_io, accept_cb, fd, EV_READ);
    c->accept_io.data = c;
    ev_io_start(c->loop, &c->accept_io);
    return 0;
}

void vx_control_close_listener(struct vx_control *c)
{
    struct stat st;
    if (c->lfd < 0)
        return;
    ev_io_stop(c->loop, &c->accept_io);
    close(c->lfd);
    c->lfd = -1;
    /* Remove the file only if it is still the one we created. */
    if (stat(c->path, &st) == 0 && st.st_dev == c->sock_dev && st.st_ino == c->sock_ino)
        unlink(c->path);
    free(c->path);
    c->path = NULL;
}

const char *vx_control_path(const struct vx_control *c)
{
    return c->path;
}

void vx_control_free(struct vx_control *c)
{
    if (!c)
        return;
    vx_control_close_listener(c);
    for (struct conn *k = c->conns; k; k = k->next)
        conn_mark_closed(k);
    while (c->conns)
        conn_free(c->conns);
    ev_ref(c->loop);
    ev_check_stop(c->loop, &c->reaper);
    free(c);
}
