/* ctlclient.h — the client side of vx6d's control protocol (see
 * daemon/control.h for the protocol). */
#ifndef VX6_CLI_CTLCLIENT_H
#define VX6_CLI_CTLCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define VX_CTL_CLIENT_TIMEOUT_MS 65000 /* longer than the daemon's pending timeout */
#define VX_CTL_MAX_RESPONSE      (4u << 20)

struct vx_ctl_response {
    bool ok;
    char errname[48];  /* "VX_ERR_NOTFOUND" when !ok */
    char message[512]; /* the error message when !ok */
    char *body;        /* malloc'd, NUL-terminated ("" when empty) */
    size_t body_len;
};

/* Send one request to the daemon at socket_path and read the response.
 * Returns 0 when a response arrived (ok or not: see resp->ok), or:
 *   VX_ERR_SYS      cannot connect (errno says why: ENOENT, ECONNREFUSED...)
 *   VX_ERR_TIMEOUT  no complete response in timeout_ms
 *   VX_ERR_PROTO    the response is malformed
 *   VX_ERR_TOOBIG   request or response over the limits
 *   VX_ERR_INVAL    bad command name or argument (newline in it)
 * Free resp with vx_ctl_response_clear(). */
int vx_ctl_call(const char *socket_path, bool json, const char *cmd, int argc, char *const argv[],
                int timeout_ms, struct vx_ctl_response *resp);
void vx_ctl_response_clear(struct vx_ctl_response *resp);

#endif
