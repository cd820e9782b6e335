/* sniff.h — tell which proxy protocol a client speaks from its first bytes.
 *
 * The local front-end serves SOCKS4, SOCKS5 and HTTP (CONNECT, absolute-form
 * requests, the PAC file) on one port.  SOCKS starts with its version byte;
 * an HTTP request starts with a method token (upper-case letters).  Pure.
 */
#ifndef VX6_FRONT_SNIFF_H
#define VX6_FRONT_SNIFF_H

#include <stddef.h>
#include <stdint.h>

enum vx_front_proto {
    VX_FRONT_NEED_MORE = 0, /* no bytes yet */
    VX_FRONT_SOCKS4 = 4,
    VX_FRONT_SOCKS5 = 5,
    VX_FRONT_HTTP = 'H',
    VX_FRONT_UNKNOWN = -1, /* reject: TLS, garbage, lower-case methods ... */
};

/* Classify a connection from its first len bytes (any len >= 1 decides; more
 * bytes let an HTTP guess be refuted early: the method must be 1-20 upper-case
 * letters followed by a space). */
enum vx_front_proto vx_front_sniff(const uint8_t *buf, size_t len);

/* A name for logs: "SOCKS4", "SOCKS5", "HTTP", "unknown". */
const char *vx_front_proto_name(enum vx_front_proto p);

#endif
