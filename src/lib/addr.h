/* addr.h — socket address helpers: parse, format, compare.
 *
 * Text forms accepted by vx_addr_parse():
 *     127.0.0.1:8080          IPv4 and port
 *     [::1]:4242              IPv6 in brackets and port
 *     [fe80::1%eth0]:4242     link-local IPv6 with a zone (interface name or index)
 *     localhost:80            the only name understood: 127.0.0.1 (no DNS, ever)
 *     :4242  *:4242           all addresses: [::] (the caller binds it dual-stack,
 *                             IPV6_V6ONLY=0, so IPv4 clients arrive as ::ffff:a.b.c.d)
 *     8080                    a bare port, only with VX_ADDR_BARE_PORT_LOOPBACK
 *                             (-> 127.0.0.1:8080) or VX_ADDR_BARE_PORT_ANY (-> [::]:8080)
 * Ports are decimal, 1..65535 (0 only with VX_ADDR_PORT0).  An IPv6 address
 * with a port must be in brackets.  Every function fails with VX_ERR_BADADDR
 * (never VX_ERR_INVAL) for malformed text, and the *_ex variants say why.
 */
#ifndef VX6_LIB_ADDR_H
#define VX6_LIB_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text vx_addr_format() writes, NUL included:
 * "[" + 45 (INET6_ADDRSTRLEN-1) + "%" + 15 (IFNAMSIZ-1) + "]:" + 5 + NUL. */
#define VX_ADDR_STRLEN 72

/* Flags for vx_addr_parse(). */
#define VX_ADDR_BARE_PORT_LOOPBACK 0x1u /* "8080" means 127.0.0.1:8080 */
#define VX_ADDR_BARE_PORT_ANY      0x2u /* "4242" means [::]:4242 */
#define VX_ADDR_PORT0              0x4u /* port 0 allowed (bind to an ephemeral port) */

/* A socket address with its length; what the config stores. */
struct vx_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Parse an address with a port (see the forms above) into *ss and *len.
 * 0 or VX_ERR_BADADDR; on failure *ss and *len are left unspecified. */
int vx_addr_parse(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len);
/* Same, and on failure *why (if not NULL) points to a static phrase such as
 * "port out of range" or "IPv6 address needs brackets". */
int vx_addr_parse_ex(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len,
                     const char **why);

/* Parse a bare IP address without port: "192.0.2.1", "2001:db8::1",
 * "fe80::1%eth0" ("[2001:db8::1]" in brackets too).  The port is set to 0.
 * 0 or VX_ERR_BADADDR. */
int vx_addr_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int vx_addr_parse_ip_ex(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                        const char **why);

/* "192.0.2.1:80", "[2001:db8::1]:80", "[fe80::1%eth0]:80" into out.
 * Returns the length written (excluding NUL), VX_ERR_BADADDR for a family
 * other than AF_INET/AF_INET6 or a short salen, VX_ERR_TOOBIG if cap is too
 * small (out then holds a NUL-terminated prefix).  cap >= VX_ADDR_STRLEN
 * always suffices. */
int vx_addr_format(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap);
/* The address only, no port and no brackets: "192.0.2.1", "2001:db8::1". */
int vx_addr_format_ip(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap);

/* Compare two addresses (family, address, port, IPv6 zone).  An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) equals the IPv4 address a.b.c.d.  Returns 0
 * when equal, <0 or >0 otherwise (a total order, usable with qsort()). */
int vx_addr_cmp(const struct sockaddr *a, const struct sockaddr *b);
/* Same, ignoring ports. */
int vx_addr_cmp_ip(const struct sockaddr *a, const struct sockaddr *b);

/* 1 if the address is loopback: 127.0.0.0/8, ::1 or ::ffff:127.x.x.x. */
int vx_addr_is_loopback(const struct sockaddr *sa);
/* 1 if the address is a wildcard: 0.0.0.0, :: . */
int vx_addr_is_any(const struct sockaddr *sa);

/* Port in host order (0 for an unknown family). */
uint16_t vx_addr_port(const struct sockaddr *sa);
/* Set the port (host order).  0 or VX_ERR_BADADDR for an unknown family. */
int vx_addr_set_port(struct sockaddr *sa, uint16_t port);

/* Turn an IPv4-mapped IPv6 address into a plain IPv4 one in place (port
 * kept); any other address is left alone. */
void vx_addr_unmap(struct sockaddr_storage *ss, socklen_t *len);
/* The reverse, for a dual-stack IPv6 socket: an IPv4 address becomes
 * ::ffff:a.b.c.d in place (port kept); any other address is left alone. */
void vx_addr_map(struct sockaddr_storage *ss, socklen_t *len);

/* The raw form wire codecs carry: IP version (4 or 6), the address bytes
 * (4 or 16) and the port in host order.
 * vx_addr_to_ip() fills ip (16 bytes; an IPv4 address, IPv4-mapped IPv6
 * included, in the first 4, the rest zeroed) and *port and returns 4 or 6;
 * VX_ERR_BADADDR for another family or a salen too short for it.  The IPv6
 * zone is not carried.
 * vx_addr_from_ip() builds the AF_INET (version 4, ip[0..3]) or AF_INET6
 * (version 6, ip[0..15]) address; 0, or VX_ERR_BADADDR for another version. */
int vx_addr_to_ip(const struct sockaddr *sa, socklen_t salen, uint8_t ip[16], uint16_t *port);
int vx_addr_from_ip(struct sockaddr_storage *ss, socklen_t *len, int version, const uint8_t *ip,
                    uint16_t port);

#endif
