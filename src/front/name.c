/* name.c — classification of requested hosts. */
#include "front/name.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/err.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* A .vx6 label: [a-z0-9-] (already lower-cased), 1-63, no '-' at either end. */
static int dns_label_ok(const char *s, size_t len)
{
    if (len == 0 || len > VX_NAME_LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* A clearnet DNS label is looser: '_' appears in real names. */
static int clear_label_ok(const char *s, size_t len)
{
    if (len == 0 || len > VX_NAME_LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int vx_name_hidden_syntax_ok(const char *s, size_t len)
{
    if (len != VX_NAME_HIDDEN_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int c = lower((unsigned char)s[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
            return 0;
    }
    return 1;
}

static void copy_label(char *dst, const char *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "2001-db8--1" -> 2001:db8::1.  No zone, no embedded IPv4, no :: / multicast. */
static int parse_ipv6_label(const char *s, size_t len, struct in6_addr *a)
{
    char buf[VX_NAME_LABEL_MAX + 1];

    if (len < 2 || len > VX_NAME_LABEL_MAX)
        return VX_ERR_BADADDR;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '-')
            buf[i] = ':';
        else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
            buf[i] = c;
        else
            return VX_ERR_BADADDR;
    }
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, a) != 1)
        return VX_ERR_BADADDR;
    if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_V4MAPPED(a))
        return VX_ERR_BADADDR;
    return 0;
}

static int parse_vx6(struct vx_name *out, size_t len)
{
    const char *h = out->host;
    const char *lab[4];
    size_t lablen[4], n = 0, start = 0;
    size_t body = len - 4; /* without ".vx6" */

    if (len <= 4)
        return VX_ERR_BADADDR; /* "vx6" or ".vx6" alone */
    for (size_t i = 0; i <= body; i++) {
        if (i == body || h[i] == '.') {
            if (n == 4)
                return VX_ERR_BADADDR;
            lab[n] = h + start;
            lablen[n] = i - start;
            if (lablen[n] == 0)
                return VX_ERR_BADADDR;
            n++;
            start = i + 1;
        }
    }
    if (n == 1) {
        if (lablen[0] == VX_NAME_HIDDEN_LEN) {
            if (!vx_name_hidden_syntax_ok(lab[0], lablen[0]))
                return VX_ERR_BADADDR;
            out->kind = VX_NAME_HIDDEN;
            copy_label(out->address, lab[0], lablen[0]);
            return 0;
        }
        if (!dns_label_ok(lab[0], lablen[0]))
            return VX_ERR_BADADDR;
        out->kind = VX_NAME_ALIAS;
        copy_label(out->alias, lab[0], lablen[0]);
        return 0;
    }
    if (n == 2) {
        if (!dns_label_ok(lab[0], lablen[0]) || !dns_label_ok(lab[1], lablen[1]))
            return VX_ERR_BADADDR;
        out->kind = VX_NAME_SERVICE;
        copy_label(out->user, lab[0], lablen[0]);
        copy_label(out->service, lab[1], lablen[1]);
        return 0;
    }
    if (n == 3 && lablen[2] == 4 && memcmp(lab[2], "ipv6", 4) == 0) {
        if (!dns_label_ok(lab[0], lablen[0]))
            return VX_ERR_BADADDR;
        if (parse_ipv6_label(lab[1], lablen[1], &out->ip6) < 0)
            return VX_ERR_BADADDR;
        out->kind = VX_NAME_IPV6;
        copy_label(out->service, lab[0], lablen[0]);
        return 0;
    }
    return VX_ERR_BADADDR;
}

static int parse_clearnet(struct vx_name *out, size_t len)
{
    struct in_addr a4;
    struct in6_addr a6;
    size_t start = 0;
    int all_numeric = 1;

    out->kind = VX_NAME_CLEARNET;
    if (inet_pton(AF_INET, out->host, &a4) == 1) {
        out->ip_family = AF_INET;
        return 0;
    }
    if (strchr(out->host, ':')) {
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return VX_ERR_BADADDR;
        out->ip_family = AF_INET6;
        return 0;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i == len || out->host[i] == '.') {
            if (!clear_label_ok(out->host + start, i - start))
                return VX_ERR_BADADDR;
            start = i + 1;
        } else if (out->host[i] < '0' || out->host[i] > '9') {
            all_numeric = 0;
        }
    }
    if (all_numeric)
        return VX_ERR_BADADDR; /* "1.2.3" or "999.1.1.1": not an IPv4 literal */
    return 0;
}

int vx_name_parse(const char *host, unsigned flags, struct vx_name *out)
{
    size_t len = strlen(host);
    int rc, bracketed = 0;

    memset(out, 0, sizeof(*out));
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        bracketed = 1;
    } else if (len && host[len - 1] == '.') {
        len--;
    }
    if (len == 0)
        return VX_ERR_BADADDR;
    if (len > VX_NAME_HOST_MAX)
        return VX_ERR_TOOBIG;
    for (size_t i = 0; i < len; i++)
        out->host[i] = (char)lower((unsigned char)host[i]);
    out->host[len] = '\0';

    if (!bracketed && len >= 3 && memcmp(out->host + len - 3, "vx6", 3) == 0 &&
        (len == 3 || out->host[len - 4] == '.'))
        return parse_vx6(out, len);

    rc = parse_clearnet(out, len);
    if (rc == 0 && bracketed && out->ip_family != AF_INET6)
        rc = VX_ERR_BADADDR; /* only an IPv6 literal goes in brackets */
    if (rc < 0)
        return rc;
    if (!(flags & VX_NAME_ALLOW_CLEARNET))
        return VX_ERR_DENIED;
    return 0;
}

const char *vx_name_kind_str(enum vx_name_kind k)
{
    switch (k) {
    case VX_NAME_SERVICE:
        return "service";
    case VX_NAME_HIDDEN:
        return "hidden";
    case VX_NAME_ALIAS:
        return "alias";
    case VX_NAME_IPV6:
        return "ipv6";
    case VX_NAME_CLEARNET:
        return "clearnet";
    default:
        return "unknown";
    }
}
