/* ctlclient.c — the client side of vx6d's control protocol. */
#include "cli/ctlclient.h"
#include "daemon/control.h"
#include "lib/err.h"
#include "lib/vxtime.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void vx_ctl_response_clear(struct vx_ctl_response *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        uint64_t now = vx_time_mono_ms();
        if (now >= deadline)
            return VX_ERR_TIMEOUT;
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return VX_ERR_SYS;
    }
}

static int parse_response(char *buf, size_t len, struct vx_ctl_response *resp)
{
    char *nl = memchr(buf, '\n', len);
    if (!nl)
        return VX_ERR_PROTO;
    *nl = '\0';
    size_t body_off = (size_t)(nl - buf) + 1;
    if (strcmp(buf, "OK") == 0) {
        resp->ok = true;
        resp->body_len = len - body_off;
        resp->body = malloc(resp->body_len + 1);
        if (!resp->body)
            abort();
        memcpy(resp->body, buf + body_off, resp->body_len);
        resp->body[resp->body_len] = '\0';
        return 0;
    }
    if (strncmp(buf, "ERR ", 4) != 0)
        return VX_ERR_PROTO;
    char *name = buf + 4, *sp = strchr(name, ' ');
    if (sp)
        *sp = '\0';
    snprintf(resp->errname, sizeof(resp->errname), "%s", name);
    snprintf(resp->message, sizeof(resp->message), "%s", sp ? sp + 1 : "failed");
    resp->ok = false;
    resp->body = calloc(1, 1);
    if (!resp->body)
        abort();
    return 0;
}

int vx_ctl_call(const char *socket_path, bool json, const char *cmd, int argc, char *const argv[],
                int timeout_ms, struct vx_ctl_response *resp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char req[VX_CTL_MAX_REQUEST + 1];
    char *buf = NULL;
    size_t len = 0, cap = 0, off = 0;
    uint64_t deadline = vx_time_mono_ms() + (uint64_t)timeout_ms;
    int fd = -1, rc, n;

    memset(resp, 0, sizeof(*resp));
    n = vx_ctl_request_format(req, sizeof(req), json, cmd, argc, argv);
    if (n < 0)
        return n;
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return VX_ERR_SYS;
    }
    strcpy(sa.sun_path, socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = VX_ERR_SYS;
        goto out;
    }
    while (off < (size_t)n) {
        ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = VX_ERR_SYS;
            goto out;
        }
        off += (size_t)w;
    }
    for (;;) {
        if ((rc = wait_fd(fd, POLLIN, deadline)) < 0)
            goto out;
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > VX_CTL_MAX_RESPONSE + 4096) {
                rc = VX_ERR_TOOBIG;
                goto out;
            }
            char *p = realloc(buf, cap);
            if (!p)
                abort();
            buf = p;
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET && len > 0)
                break;
            rc = VX_ERR_SYS;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (!buf) {
        rc = VX_ERR_PROTO;
        goto out;
    }
    buf[len] = '\0';
    rc = parse_response(buf, len, resp);
out:
    if (fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    free(buf);
    return rc;
}
