/* name.h — classify the host a proxy client asked for (pure).
 *
 * See DESIGN.md "Names":
 *   USER.SERVICE.vx6            VX_NAME_SERVICE  named public service
 *   ADDRESS.vx6                 VX_NAME_HIDDEN   56 base32 chars [a-z2-7]
 *   ALIAS.vx6                   VX_NAME_ALIAS    any other single label
 *   SERVICE.<v6 with - for :>.ipv6.vx6
 *                               VX_NAME_IPV6     direct IPv6 mode
 *   anything else               VX_NAME_CLEARNET only if allowed
 * Matching is case-insensitive and a trailing dot is accepted; the parts
 * are returned in lower case.  Labels of .vx6 names are DNS labels:
 * [a-z0-9-], 1-63 characters, no leading or trailing '-'.  A 56-character
 * single label is always taken as a hidden address (so a mistyped one is
 * reported as malformed instead of being looked up as an alias).  Only the
 * syntax of a hidden address is checked here: its checksum and version are
 * the hidden-service module's business.
 */
#ifndef VX6_FRONT_NAME_H
#define VX6_FRONT_NAME_H

#include <netinet/in.h>
#include <stddef.h>

#define VX_NAME_LABEL_MAX  63
#define VX_NAME_HOST_MAX   253 /* without the trailing dot */
#define VX_NAME_HIDDEN_LEN 56

enum vx_name_kind {
    VX_NAME_SERVICE = 1,
    VX_NAME_HIDDEN,
    VX_NAME_ALIAS,
    VX_NAME_IPV6,
    VX_NAME_CLEARNET,
};

struct vx_name {
    enum vx_name_kind kind;
    /* the host, lower-cased, trailing dot and [brackets] removed */
    char host[VX_NAME_HOST_MAX + 1];
    char user[VX_NAME_LABEL_MAX + 1];     /* SERVICE */
    char service[VX_NAME_LABEL_MAX + 1];  /* SERVICE, IPV6 */
    char address[VX_NAME_HIDDEN_LEN + 1]; /* HIDDEN */
    char alias[VX_NAME_LABEL_MAX + 1];    /* ALIAS */
    struct in6_addr ip6;                  /* IPV6 */
    int ip_family; /* CLEARNET: AF_INET / AF_INET6 for an IP literal, 0 for a DNS name */
};

/* vx_name_parse() flags */
#define VX_NAME_ALLOW_CLEARNET 0x1

/* Classify host (NUL-terminated; an HTTP "[v6]" literal is accepted).
 * Returns 0 with *out filled, or
 *   VX_ERR_BADADDR  a malformed .vx6 name, or a host that is no valid DNS
 *                   name or IP literal
 *   VX_ERR_DENIED   a well-formed clearnet host without
 *                   VX_NAME_ALLOW_CLEARNET (*out is still filled, for logs)
 *   VX_ERR_TOOBIG   host longer than 253 characters (254 with the dot) */
int vx_name_parse(const char *host, unsigned flags, struct vx_name *out);

/* 1 if s[0..len) is syntactically a hidden address (56 chars of
 * [a-zA-Z2-7]), else 0. */
int vx_name_hidden_syntax_ok(const char *s, size_t len);

const char *vx_name_kind_str(enum vx_name_kind k);

#endif
