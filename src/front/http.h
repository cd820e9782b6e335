/* http.h — HTTP proxy requests and responses (pure, no I/O; llhttp inside).
 *
 * An incremental parser for the request head a proxy client sends:
 *   CONNECT host:port HTTP/1.1          -> VX_HTTP_CONNECT  (host may be [v6])
 *   GET http://alice.web.vx6/p HTTP/1.1 -> VX_HTTP_FORWARD  (absolute-form; port
 *                                          defaults to 80; forward the head from
 *                                          vx_http_rewrite_head() upstream)
 *   GET /proxy.pac HTTP/1.1             -> VX_HTTP_PAC      (also HEAD)
 *   any other origin-form request       -> VX_HTTP_LOCAL    (answer it yourself)
 * The head may arrive in any pieces; it is capped at VX_HTTP_HEAD_MAX bytes
 * and VX_HTTP_MAX_HEADERS fields (431 beyond).  Bytes after the head (early
 * tunnel data, a request body) are not consumed and belong to the caller.
 * struct vx_http embeds everything (about 18 KiB, no allocation): init /
 * feed / reset.  Its fields are private except through the functions here.
 */
#ifndef VX6_FRONT_HTTP_H
#define VX6_FRONT_HTTP_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#define VX_HTTP_HEAD_MAX    16384
#define VX_HTTP_MAX_HEADERS 100
#define VX_HTTP_HOST_MAX    255
#define VX_HTTP_CRED_MAX    255
/* vx_http_rewrite_head() output always fits in this */
#define VX_HTTP_REWRITE_MAX (VX_HTTP_HEAD_MAX + 256)
/* every response built below fits in this */
#define VX_HTTP_RESP_MAX 1024

enum vx_http_kind {
    VX_HTTP_CONNECT = 1,
    VX_HTTP_FORWARD,
    VX_HTTP_PAC,
    VX_HTTP_LOCAL,
};

enum vx_http_result {
    VX_HTTP_MORE = 0,    /* all input consumed; the head is not complete yet */
    VX_HTTP_REQUEST = 1, /* the head is complete; see vx_http_request() */
};

struct vx_http_req {
    enum vx_http_kind kind;
    int method;                      /* llhttp_method_t; llhttp_method_name() names it */
    int http_minor;                  /* HTTP/1.x */
    char host[VX_HTTP_HOST_MAX + 1]; /* CONNECT/FORWARD: brackets removed, case kept */
    uint16_t port;                   /* CONNECT/FORWARD */
    int has_proxy_auth;              /* a Proxy-Authorization header was sent */
    int proxy_auth_ok;               /* ...and it was well-formed Basic */
    char username[VX_HTTP_CRED_MAX + 1];
    char password[VX_HTTP_CRED_MAX + 1];
};

struct vx_http_hdr {
    uint16_t name_off, name_len, val_off, val_len;
};

struct vx_http {
    /* private */
    llhttp_t parser;
    int state;
    int err;
    int status;  /* the HTTP status a failure should be answered with */
    int last_cb; /* 1 header field, 2 header value */
    size_t fed;  /* head bytes given to llhttp */
    size_t arena_len;
    uint16_t url_len;
    uint16_t target_off, target_len;       /* origin-form target */
    uint16_t authority_off, authority_len; /* FORWARD: "host[:port]" from the URL */
    unsigned nhdr;
    struct vx_http_hdr hdr[VX_HTTP_MAX_HEADERS];
    struct vx_http_req req;
    char arena[VX_HTTP_HEAD_MAX]; /* URL, then header names and values */
};

void vx_http_init(struct vx_http *h);
void vx_http_reset(struct vx_http *h);

/* Feed len bytes; *consumed says how many belong to the head.  Returns
 * VX_HTTP_MORE, VX_HTTP_REQUEST or a failure, after which answer with
 * vx_http_fail_response() and close:
 *   VX_ERR_PROTO   not HTTP/1.x (llhttp's verdict), header with CR/LF  (400)
 *   VX_ERR_TOOBIG  head over VX_HTTP_HEAD_MAX or too many fields        (431)
 *   VX_ERR_BADADDR a CONNECT or absolute-form target that is no
 *                  host:port, a port out of range, userinfo in the URL  (400)
 *   VX_ERR_INVAL   a scheme other than http://; fed after completion    (400)
 * Repeated calls after a failure return the same code. */
int vx_http_feed(struct vx_http *h, const char *buf, size_t len, size_t *consumed);

/* After VX_HTTP_REQUEST: the request; NULL before. */
const struct vx_http_req *vx_http_request(const struct vx_http *h);
/* FORWARD/PAC/LOCAL: the origin-form target ("/path?query"), not
 * NUL-terminated; NULL for CONNECT. */
const char *vx_http_target(const struct vx_http *h, size_t *len);
/* The value of the first header named name (case-insensitive), trailing
 * whitespace trimmed, not NUL-terminated; NULL if absent. */
const char *vx_http_header(const struct vx_http *h, const char *name, size_t *len);

/* FORWARD only: the head to send upstream, in origin-form, "Host" set from
 * the URL, hop-by-hop fields (Connection, Keep-Alive, Proxy-Connection,
 * Proxy-Authorization, Proxy-Authenticate, TE, Trailer and those named in
 * Connection) removed and "Connection: close" added ("Connection: upgrade"
 * with the Upgrade field kept when the client asked for an upgrade).
 * Returns the length, VX_ERR_TOOBIG when cap is short (VX_HTTP_REWRITE_MAX
 * always fits) or VX_ERR_INVAL for another kind. */
int vx_http_rewrite_head(const struct vx_http *h, char *out, size_t cap);

/* Proxy authentication: 0 when user is NULL (none configured) or the
 * request's Basic credentials match; VX_ERR_AUTH otherwise (answer 407). */
int vx_http_check_auth(const struct vx_http *h, const char *user, const char *pass);

/* After a failure: the status to answer with (400, 431). */
int vx_http_fail_status(const struct vx_http *h);

/* Responses.  Each returns the length written or VX_ERR_TOOBIG. */
/* "HTTP/1.1 200 Connection established\r\n\r\n" */
int vx_http_connect_ok(char *out, size_t cap);
/* A complete response with a one-line text/plain body (line + "\n") and
 * Connection: close; 407 adds Proxy-Authenticate: Basic realm="vx6". */
int vx_http_error_response(int status, const char *line, char *out, size_t cap);
/* The error response for a VX_ERR_* code about host (front/errors.h table):
 * e.g. 404 "vx6: no record for alice.web.vx6". */
int vx_http_error_for(int err, const char *host, char *out, size_t cap);
/* The response to a failed parse (vx_http_fail_status()). */
int vx_http_fail_response(const struct vx_http *h, char *out, size_t cap);
/* A response head for a body of body_len bytes of content_type. */
int vx_http_response_head(int status, const char *content_type, size_t body_len, char *out,
                          size_t cap);

/* Decode "Basic <base64(user:pass)>".  0 or VX_ERR_INVAL. */
int vx_http_parse_basic(const char *v, size_t len, char user[VX_HTTP_CRED_MAX + 1],
                        char pass[VX_HTTP_CRED_MAX + 1]);

#endif
