/* test_control.c — control protocol parsing, command table, server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"
#include "lib/err.h"

/* ---- parsing ---- */

static int parse(struct vx_ctl_request *req, const char *line)
{
    char err[160];
    return vx_ctl_request_parse(req, line, strlen(line), err, sizeof(err));
}

static void test_parse_simple(void **state)
{
    (void)state;
    static struct vx_ctl_request req;
    assert_int_equal(parse(&req, "status\n"), 0);
    assert_string_equal(req.cmd, "status");
    assert_int_equal(req.argc, 0);
    assert_false(req.json);

    assert_int_equal(parse(&req, "+json  loglevel\tinfo,dht=debug \r\n"), 0);
    assert_true(req.json);
    assert_string_equal(req.cmd, "loglevel");
    assert_int_equal(req.argc, 1);
    assert_string_equal(req.argv[0], "info,dht=debug");

    /* no LF at all is fine too */
    assert_int_equal(parse(&req, "id"), 0);
    assert_string_equal(req.cmd, "id");
}

static void test_parse_quotes(void **state)
{
    (void)state;
    static struct vx_ctl_request req;
    assert_int_equal(parse(&req, "x \"a b\" \"\" \"q\\\"\\\\\" plain\n"), 0);
    assert_int_equal(req.argc, 4);
    assert_string_equal(req.argv[0], "a b");
    assert_string_equal(req.argv[1], "");
    assert_string_equal(req.argv[2], "q\"\\");
    assert_string_equal(req.argv[3], "plain");
}

static void test_parse_errors(void **state)
{
    (void)state;
    static struct vx_ctl_request req;
    char err[160];
    assert_int_equal(parse(&req, "\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "   "), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "+json\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "+yaml status\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "Status\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "sta/tus\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "x \"open\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "x \"a\"b\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "x a\"b\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "x a\x01 b\n"), VX_ERR_INVAL);
    assert_int_equal(parse(&req, "x \"a\\"), VX_ERR_INVAL);
    assert_int_equal(vx_ctl_request_parse(&req, "st\0tus", 6, err, sizeof(err)), VX_ERR_INVAL);

    char line[VX_CTL_MAX_REQUEST + 10];
    memset(line, 'a', sizeof(line));
    line[sizeof(line) - 1] = '\0';
    assert_int_equal(parse(&req, line), VX_ERR_TOOBIG);

    /* 33 arguments is one too many */
    char many[256] = "cmd";
    for (int i = 0; i < VX_CTL_MAX_ARGS + 1; i++)
        strcat(many, " a");
    assert_int_equal(vx_ctl_request_parse(&req, many, strlen(many), err, sizeof(err)),
                     VX_ERR_TOOBIG);
    assert_non_null(strstr(err, "too many arguments"));
    /* 32 are fine */
    many[strlen(many) - 2] = '\0';
    assert_int_equal(parse(&req, many), 0);
    assert_int_equal(req.argc, VX_CTL_MAX_ARGS);
}

static void test_format_roundtrip(void **state)
{
    (void)state;
    static struct vx_ctl_request req;
    char out[VX_CTL_MAX_REQUEST + 1];
    char *args[] = {"plain", "with space", "", "q\"uote\\", "+notaflag"};
    int n = vx_ctl_request_format(out, sizeof(out), true, "publish", 5, args);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_int_equal(out[n - 1], '\n');
    assert_int_equal(parse(&req, out), 0);
    assert_true(req.json);
    assert_string_equal(req.cmd, "publish");
    assert_int_equal(req.argc, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(req.argv[i], args[i]);

    assert_int_equal(vx_ctl_request_format(out, sizeof(out), false, "Bad", 0, NULL), VX_ERR_INVAL);
    char *nl[] = {"a\nb"};
    assert_int_equal(vx_ctl_request_format(out, sizeof(out), false, "x", 1, nl), VX_ERR_INVAL);
    assert_int_equal(vx_ctl_request_format(out, 4, false, "status", 0, NULL), VX_ERR_TOOBIG);
}

/* ---- command table ---- */

static int echo_calls;

static int cmd_echo(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    echo_calls++;
    assert_ptr_equal(arg, &echo_calls);
    if (vx_ctl_reply_is_json(r)) {
        struct vx_json *j = vx_ctl_reply_json(r);
        vx_json_obj_begin(j);
        vx_json_key(j, "args");
        vx_json_arr_begin(j);
        for (int i = 0; i < req->argc; i++)
            vx_json_str(j, req->argv[i]);
        vx_json_arr_end(j);
        vx_json_obj_end(j);
        return 0;
    }
    for (int i = 0; i < req->argc; i++)
        vx_ctl_reply_printf(r, "%s\n", req->argv[i]);
    return 0;
}

static int cmd_fail(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    vx_ctl_reply_printf(r, "partial body that must not be sent\n");
    return vx_ctl_reply_error(r, VX_ERR_NOTFOUND, "no record for %s\nsecond line", req->argv[0]);
}

static int cmd_bare_fail(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    return VX_ERR_TIMEOUT;
}

static int cmd_badjson(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    vx_json_obj_begin(vx_ctl_reply_json(r));
    return 0;
}

static const struct vx_ctl_command echo_cmd = {"echo", "ARG...", "print the arguments",
                                               0,      3,        cmd_echo};

static char *run(struct vx_control *c, const char *line, int *rc)
{
    static struct vx_ctl_request req;
    char *out = NULL;
    assert_int_equal(parse(&req, line), 0);
    *rc = vx_control_execute(c, &req, &out);
    assert_non_null(out);
    return out;
}

static void test_table(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vx_control *c = vx_control_new(loop);
    const struct vx_ctl_command fail = {"fail", "NAME", "always fails", 1, 1, cmd_fail};
    const struct vx_ctl_command bare = {"bare", NULL, "fails without a message",
                                        0,      0,    cmd_bare_fail};
    const struct vx_ctl_command badjson = {"badjson", NULL, "unbalanced JSON", 0, 0, cmd_badjson};
    const struct vx_ctl_command badname = {"Bad", NULL, "", 0, 0, cmd_echo};
    const struct vx_ctl_command badargs = {"x", NULL, "", 2, 1, cmd_echo};
    int rc;
    char *out;

    assert_int_equal(vx_control_register(c, &echo_cmd, &echo_calls), 0);
    assert_int_equal(vx_control_register(c, &echo_cmd, &echo_calls), VX_ERR_EXISTS);
    assert_int_equal(vx_control_register(c, &badname, NULL), VX_ERR_INVAL);
    assert_int_equal(vx_control_register(c, &badargs, NULL), VX_ERR_INVAL);
    assert_int_equal(vx_control_register(c, &fail, NULL), 0);
    assert_int_equal(vx_control_register(c, &bare, NULL), 0);
    assert_int_equal(vx_control_register(c, &badjson, NULL), 0);
    assert_non_null(vx_control_lookup(c, "help"));

    echo_calls = 0;
    out = run(c, "echo a \"b c\"", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "OK\na\nb c\n");
    free(out);
    assert_int_equal(echo_calls, 1);

    out = run(c, "+json echo a", &rc);
    assert_string_equal(out, "OK\n{\"args\":[\"a\"]}\n");
    free(out);

    out = run(c, "echo 1 2 3 4", &rc);
    assert_int_equal(rc, VX_ERR_INVAL);
    assert_string_equal(out, "ERR VX_ERR_INVAL usage: echo ARG...\n");
    free(out);
    assert_int_equal(echo_calls, 2);

    out = run(c, "nosuch", &rc);
    assert_int_equal(rc, VX_ERR_NOTFOUND);
    assert_string_equal(out, "ERR VX_ERR_NOTFOUND unknown command 'nosuch' (try 'help')\n");
    free(out);

    out = run(c, "fail bob", &rc);
    assert_int_equal(rc, VX_ERR_NOTFOUND);
    assert_string_equal(out, "ERR VX_ERR_NOTFOUND no record for bob second line\n");
    free(out);

    out = run(c, "bare", &rc);
    assert_int_equal(rc, VX_ERR_TIMEOUT);
    assert_non_null(strstr(out, "ERR VX_ERR_TIMEOUT bare failed: "));
    free(out);

    out = run(c, "+json badjson", &rc);
    assert_int_equal(rc, VX_ERR_INTERNAL);
    free(out);

    out = run(c, "help", &rc);
    assert_int_equal(rc, 0);
    /* sorted, with synopsis */
    char *h = strstr(out, "bare"), *e = strstr(out, "echo ARG..."), *hl = strstr(out, "help [");
    assert_non_null(h);
    assert_non_null(e);
    assert_non_null(hl);
    assert_true(h < e && e < hl);
    free(out);

    out = run(c, "+json help echo", &rc);
    assert_string_equal(out, "OK\n{\"commands\":[{\"name\":\"echo\",\"args\":\"ARG...\","
                             "\"help\":\"print the arguments\"}]}\n");
    free(out);

    assert_int_equal(vx_control_unregister(c, "echo"), 0);
    assert_int_equal(vx_control_unregister(c, "echo"), VX_ERR_NOTFOUND);
    assert_null(vx_control_lookup(c, "echo"));
    assert_non_null(vx_control_lookup(c, "fail"));

    vx_control_free(c);
    ev_loop_destroy(loop);
}

/* ---- the server over a socketpair ---- */

static struct ev_loop *g_loop;
static struct vx_ctl_reply *g_pending;
static int g_cancelled;

static void cancel_cb(void *arg)
{
    g_cancelled++;
    g_pending = NULL;
}

static int cmd_slow(struct vx_ctl_reply *r, const struct vx_ctl_request *req, void *arg)
{
    g_pending = r;
    vx_ctl_reply_on_cancel(r, cancel_cb, NULL);
    return VX_CTL_PENDING;
}

static void finish_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    if (g_pending) {
        vx_ctl_reply_printf(g_pending, "late answer\n");
        vx_ctl_reply_finish(g_pending);
        g_pending = NULL;
    }
}

/* Read the whole response from fd while running the loop. */
static char *exchange(int fd, const char *send_bytes, size_t len)
{
    static char buf[65536];
    size_t got = 0;
    if (len)
        assert_int_equal(write(fd, send_bytes, len), (ssize_t)len);
    for (int i = 0; i < 2000; i++) {
        ev_run(g_loop, EVRUN_NOWAIT);
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            got += (size_t)n;
        else
            usleep(1000);
    }
    buf[got] = '\0';
    return buf;
}

static int serve_pair(struct vx_control *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(vx_control_serve_fd(c, sv[1]), 0);
    return sv[0];
}

static void test_server(void **state)
{
    (void)state;
    g_loop = ev_loop_new(EVFLAG_AUTO);
    struct vx_control *c = vx_control_new(g_loop);
    const struct vx_ctl_command slow = {"slow", NULL, "answers later", 0, 0, cmd_slow};
    ev_timer t;
    int fd;

    vx_control_register(c, &echo_cmd, &echo_calls);
    vx_control_register(c, &slow, NULL);

    /* request split over two writes, answered, connection closed */
    fd = serve_pair(c);
    assert_int_equal(write(fd, "ec", 2), 2);
    ev_run(g_loop, EVRUN_NOWAIT);
    assert_string_equal(exchange(fd, "ho hi\n", 6), "OK\nhi\n");
    close(fd);

    /* bad request answered, not crashed */
    fd = serve_pair(c);
    assert_string_equal(exchange(fd, "\"x\n", 3),
                        "ERR VX_ERR_INVAL bad request: unterminated quoted argument\n");
    close(fd);

    fd = serve_pair(c);
    char *resp = exchange(fd, "+what status\n", 13);
    assert_string_equal(resp, "ERR VX_ERR_INVAL bad request: unknown request flag '+what'\n");
    close(fd);

    /* oversized request without a newline */
    fd = serve_pair(c);
    char big[VX_CTL_MAX_REQUEST + 100];
    memset(big, 'a', sizeof(big));
    resp = exchange(fd, big, sizeof(big));
    assert_non_null(strstr(resp, "ERR VX_ERR_TOOBIG"));
    close(fd);

    /* EOF without LF still gets an answer */
    fd = serve_pair(c);
    assert_int_equal(write(fd, "echo z", 6), 6);
    shutdown(fd, SHUT_WR);
    assert_string_equal(exchange(fd, "", 0), "OK\nz\n");
    close(fd);

    /* pending reply finished later */
    fd = serve_pair(c);
    ev_timer_init(&t, finish_cb, 0.05, 0.);
    ev_timer_start(g_loop, &t);
    assert_string_equal(exchange(fd, "slow\n", 5), "OK\nlate answer\n");
    close(fd);

    /* client goes away while pending: cancel runs */
    g_cancelled = 0;
    fd = serve_pair(c);
    assert_int_equal(write(fd, "slow\n", 5), 5);
    for (int i = 0; i < 50 && !g_pending; i++)
        ev_run(g_loop, EVRUN_NOWAIT);
    assert_non_null(g_pending);
    assert_int_equal(vx_control_n_clients(c), 1);
    close(fd);
    vx_control_free(c); /* closing the server abandons the pending reply */
    assert_int_equal(g_cancelled, 1);
    assert_null(g_pending);
    ev_loop_destroy(g_loop);
}

static void test_idle_client_closed(void **state)
{
    (void)state;
    /* An idle client is dropped after the idle timeout. */
    g_loop = ev_loop_new(EVFLAG_AUTO);
    struct vx_control *c = vx_control_new(g_loop);
    vx_control_set_idle_timeout(c, 100);
    int fd = serve_pair(c);
    ev_run(g_loop, EVRUN_NOWAIT);
    assert_int_equal(vx_control_n_clients(c), 1);
    for (int i = 0; i < 300 && vx_control_n_clients(c); i++) {
        usleep(10000);
        ev_run(g_loop, EVRUN_NOWAIT);
    }
    assert_int_equal(vx_control_n_clients(c), 0);
    char b;
    assert_int_equal(read(fd, &b, 1), 0); /* closed by the server */
    close(fd);
    vx_control_free(c);
    ev_loop_destroy(g_loop);
}

static void test_listen(void **state)
{
    (void)state;
    char dir[] = "/tmp/vx6ctlXXXXXX", path[256], sub[200];
    const char *why;
    struct stat st;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct vx_control *a = vx_control_new(loop), *b = vx_control_new(loop);

    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/run", dir);
    snprintf(path, sizeof(path), "%s/control.sock", sub);

    assert_int_equal(vx_control_listen(a, path, &why), 0);
    assert_string_equal(vx_control_path(a), path);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    /* a second server refuses: a live daemon answers */
    assert_int_equal(vx_control_listen(b, path, &why), VX_ERR_EXISTS);
    assert_non_null(strstr(why, "another vx6d"));

    /* a stale socket (bound, nobody listening) is replaced */
    vx_control_close_listener(a);
    assert_int_equal(stat(path, &st), -1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(vx_control_listen(b, path, &why), 0);

    /* a regular file in the way is not removed */
    vx_control_close_listener(b);
    FILE *f = fopen(path, "w");
    fputs("keep me", f);
    fclose(f);
    assert_int_equal(vx_control_listen(b, path, &why), VX_ERR_EXISTS);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);

    /* too long for sun_path */
    char longp[200];
    memset(longp, 'x', sizeof(longp));
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(vx_control_listen(b, longp, &why), VX_ERR_TOOBIG);

    vx_control_free(a);
    vx_control_free(b);
    rmdir(sub);
    rmdir(dir);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_simple),
            cmocka_unit_test(test_parse_quotes),
            cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_format_roundtrip),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_server),
            cmocka_unit_test(test_idle_client_closed),
            cmocka_unit_test(test_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
