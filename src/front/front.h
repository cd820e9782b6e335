/* front.h — the local proxy front-end and local forwards (I/O on libev).
 *
 * One listener (config `socks`, 127.0.0.1:1080 by default) serves SOCKS4,
 * SOCKS4a, SOCKS5 and HTTP on the same port: CONNECT, absolute-form requests
 * (forwarded upstream with a rewritten head) and GET /proxy.pac.  Forward
 * listeners (config `forwards`, `vx6 connect NAME --listen ADDR`) take plain
 * TCP connections and tunnel each to a fixed NAME:PORT.
 *
 * Every client connection is a state machine:
 *   SNIFF -> SOCKS | HTTP         parse the request (handshake timeout)
 *         -> CONNECTING           vx_path_connect(); client bytes that arrive
 *                                 meanwhile are kept (early data, capped);
 *                                 EOF from a proxy client (which has no
 *                                 reason to half-close before its reply)
 *                                 cancels the request; EOF on a forward is
 *                                 a half-close passed on once connected
 *         -> REPLYING             the success reply is written as soon as
 *                                 the stream is open (ssh speaks first)
 *         -> SPLICED              the socket belongs to the stream, early
 *                                 bytes first (vx_stream_splice_data())
 *         or RELAY                clearnet: a local two-socket relay
 *         or DRAIN                an error reply or the PAC file, then close
 * Failures are answered with the SOCKS reply code / HTTP status and the
 * one-line reason of front/errors.h, always in bounded time.  Limits (lib/
 * limits.h): total connections and connections per client (an IPv4 address
 * or an IPv6 /64); proxy and forward listeners both count.
 */
#ifndef VX6_FRONT_FRONT_H
#define VX6_FRONT_FRONT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "path/path.h"

#define VX_FRONT_DEFAULT_HANDSHAKE_MS 10000
#define VX_FRONT_DEFAULT_MAX_CONNS    4096
#define VX_FRONT_DEFAULT_MAX_PER_CLI  256
#define VX_FRONT_EARLY_MAX            65536 /* client bytes kept before the tunnel is up */
#define VX_FRONT_DRAIN_MS             2000  /* time to deliver an error reply */

struct ev_loop;
struct vx_front;

struct vx_front_conf {
    const char *username; /* socks_auth: both set or both NULL (copied) */
    const char *password;
    uint32_t handshake_timeout_ms; /* 0: default */
    uint32_t max_conns;            /* 0: default */
    uint32_t max_conns_per_client; /* 0: default */
};

struct vx_front_stats {
    uint64_t accepted;      /* connections accepted since start */
    uint64_t active;        /* open now (all states) */
    uint64_t tunnels;       /* spliced or relayed now */
    uint64_t limited;       /* closed at accept by a limit */
    uint64_t failed;        /* answered with an error */
    uint64_t timeouts;      /* handshake timeouts */
    uint64_t pac;           /* PAC files served */
    uint64_t tunnels_total; /* tunnels set up since start */
};

struct vx_front_forward_info {
    struct sockaddr_storage listen; /* as bound (the real port) */
    socklen_t listen_len;
    const char *host;
    uint16_t port;
    enum vx_route route;
    int runtime;    /* created by `vx6 connect`, not by the config */
    uint64_t conns; /* accepted since it was created */
};

/* Never returns NULL.  The path must outlive the front. */
struct vx_front *vx_front_new(struct ev_loop *loop, struct vx_path *path);
/* Close listeners and every connection (cancelling their requests).
 * Accepts NULL. */
void vx_front_free(struct vx_front *f);

/* Apply settings (start, reload).  conf may be NULL for the defaults.
 * Connections already open keep going.  0 or VX_ERR_INVAL. */
int vx_front_configure(struct vx_front *f, const struct vx_front_conf *conf);

/* Start the proxy listener.  0, VX_ERR_EXISTS (already listening) or
 * VX_ERR_SYS (errno set). */
int vx_front_listen(struct vx_front *f, const struct sockaddr *sa, socklen_t len);
/* The proxy listener's address (to learn the port after binding port 0).
 * 0 or VX_ERR_NOTFOUND. */
int vx_front_local_addr(const struct vx_front *f, struct sockaddr_storage *ss, socklen_t *len);

/* Add a forward: connections accepted at sa go to host:port.  runtime: made
 * by a control command (kept across reloads).  The bound address is stored
 * in *bound if not NULL.  0, VX_ERR_EXISTS (a listener at that address),
 * VX_ERR_BADADDR (host fails vx_path_describe() syntax checks) or VX_ERR_SYS. */
int vx_front_add_forward(struct vx_front *f, const struct sockaddr *sa, socklen_t len,
                         const char *host, uint16_t port, enum vx_route route, int runtime,
                         struct sockaddr_storage *bound, socklen_t *bound_len);
/* Remove the forward listening at sa (its tunnels live on).  0 or
 * VX_ERR_NOTFOUND. */
int vx_front_remove_forward(struct vx_front *f, const struct sockaddr *sa, socklen_t len);

struct vx_front_forward_def {
    struct sockaddr_storage listen;
    socklen_t listen_len;
    const char *host;
    uint16_t port;
    enum vx_route route;
};
/* Make the configured (non-runtime) forwards exactly defs: keep the ones
 * that did not change, close removed ones, open new ones.  Returns 0 or the
 * first error (the other forwards are still applied). */
int vx_front_set_forwards(struct vx_front *f, const struct vx_front_forward_def *defs, size_t n);

typedef void (*vx_front_forward_fn)(const struct vx_front_forward_info *info, void *arg);
void vx_front_foreach_forward(const struct vx_front *f, vx_front_forward_fn fn, void *arg);

void vx_front_get_stats(const struct vx_front *f, struct vx_front_stats *st);

#endif
