/* addr.c — socket address helpers. */
#include "lib/addr.h"
#include "lib/err.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

/* Longest text we look at: a bracketed zoned IPv6 address and a port. */
#define MAX_TEXT 128

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return VX_ERR_BADADDR;
}

/* Decimal port: digits only, no sign, no leading '+', at most 5 digits. */
static int parse_port(const char *s, unsigned flags, uint16_t *port, const char **why)
{
    unsigned long v = 0;
    size_t n = 0;

    if (!*s)
        return fail(why, "missing port");
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9')
            return fail(why, "port is not a number");
        if (n >= 5)
            return fail(why, "port out of range");
        v = v * 10 + (unsigned long)(s[n] - '0');
    }
    if (v > 65535)
        return fail(why, "port out of range");
    if (v == 0 && !(flags & VX_ADDR_PORT0))
        return fail(why, "port 0 is not allowed");
    *port = (uint16_t)v;
    return 0;
}

static void set_v4(struct sockaddr_storage *ss, socklen_t *len, const struct in_addr *a,
                   uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof(*ss));
    sin->sin_family = AF_INET;
    sin->sin_addr = *a;
    sin->sin_port = htons(port);
    *len = sizeof(*sin);
}

static void set_v6(struct sockaddr_storage *ss, socklen_t *len, const struct in6_addr *a,
                   uint32_t scope, uint16_t port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = *a;
    sin6->sin6_scope_id = scope;
    sin6->sin6_port = htons(port);
    *len = sizeof(*sin6);
}

/* Zone: an interface name or a decimal index. */
static int parse_zone(const char *z, uint32_t *scope, const char **why)
{
    unsigned long v = 0;
    size_t i;

    if (!*z)
        return fail(why, "empty IPv6 zone");
    if (strlen(z) >= IF_NAMESIZE)
        return fail(why, "IPv6 zone too long");
    for (i = 0; z[i] >= '0' && z[i] <= '9'; i++) {
        v = v * 10 + (unsigned long)(z[i] - '0');
        if (v > 0xffffffffUL)
            return fail(why, "IPv6 zone index out of range");
    }
    if (!z[i] && i > 0) {
        *scope = (uint32_t)v;
        return 0;
    }
    v = if_nametoindex(z);
    if (!v)
        return fail(why, "unknown network interface in IPv6 zone");
    *scope = (uint32_t)v;
    return 0;
}

/* A bare IP (no brackets, no port) into ss with the given port. */
static int parse_ip_port(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len,
                         const char **why)
{
    char buf[MAX_TEXT];
    struct in_addr a4;
    struct in6_addr a6;
    uint32_t scope = 0;
    char *pct;

    if (strlen(ip) >= sizeof(buf))
        return fail(why, "address too long");
    strcpy(buf, ip);
    if (!buf[0])
        return fail(why, "missing address");
    if (strchr(buf, ':') == NULL) {
        if (inet_pton(AF_INET, buf, &a4) != 1)
            return fail(why, "not an IPv4 address");
        set_v4(ss, len, &a4, port);
        return 0;
    }
    pct = strchr(buf, '%');
    if (pct) {
        *pct = '\0';
        if (parse_zone(pct + 1, &scope, why) < 0)
            return VX_ERR_BADADDR;
    }
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return fail(why, "not an IPv6 address");
    if (pct && !IN6_IS_ADDR_LINKLOCAL(&a6) && !IN6_IS_ADDR_MC_LINKLOCAL(&a6))
        return fail(why, "IPv6 zone given for an address that is not link-local");
    set_v6(ss, len, &a6, scope, port);
    return 0;
}

int vx_addr_parse_ex(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len,
                     const char **why)
{
    char buf[MAX_TEXT];
    const char *host, *portstr;
    uint16_t port;
    size_t n;

    if (!s || !ss || !len)
        return fail(why, "no address");
    n = strlen(s);
    if (n == 0)
        return fail(why, "empty address");
    if (n >= sizeof(buf))
        return fail(why, "address too long");
    memcpy(buf, s, n + 1);

    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close)
            return fail(why, "missing ']'");
        if (close[1] != ':')
            return fail(why, close[1] ? "expected ':' after ']'" : "missing port");
        *close = '\0';
        host = buf + 1;
        portstr = close + 2;
        if (!strchr(host, ':'))
            return fail(why, "brackets are only for IPv6 addresses");
        if (parse_port(portstr, flags, &port, why) < 0)
            return VX_ERR_BADADDR;
        return parse_ip_port(host, port, ss, len, why);
    }

    char *colon = strrchr(buf, ':');
    if (!colon) {
        /* A bare port, if the caller allows it. */
        if (buf[strspn(buf, "0123456789")] == '\0' &&
            (flags & (VX_ADDR_BARE_PORT_LOOPBACK | VX_ADDR_BARE_PORT_ANY))) {
            if (parse_port(buf, flags, &port, why) < 0)
                return VX_ERR_BADADDR;
            if (flags & VX_ADDR_BARE_PORT_LOOPBACK) {
                struct in_addr lo = {htonl(INADDR_LOOPBACK)};
                set_v4(ss, len, &lo, port);
            } else {
                set_v6(ss, len, &in6addr_any, 0, port);
            }
            return 0;
        }
        return fail(why, "missing port (expected HOST:PORT)");
    }
    if (strchr(buf, ':') != colon)
        return fail(why, "IPv6 address needs brackets: [ADDRESS]:PORT");
    *colon = '\0';
    host = buf;
    portstr = colon + 1;
    if (parse_port(portstr, flags, &port, why) < 0)
        return VX_ERR_BADADDR;
    if (host[0] == '\0' || strcmp(host, "*") == 0) {
        set_v6(ss, len, &in6addr_any, 0, port);
        return 0;
    }
    if (strcasecmp(host, "localhost") == 0) {
        struct in_addr lo = {htonl(INADDR_LOOPBACK)};
        set_v4(ss, len, &lo, port);
        return 0;
    }
    if (host[strspn(host, "0123456789.")] != '\0')
        return fail(why, "not an IP address (host names other than localhost are not resolved)");
    return parse_ip_port(host, port, ss, len, why);
}

int vx_addr_parse(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len)
{
    return vx_addr_parse_ex(s, flags, ss, len, NULL);
}

int vx_addr_parse_ip_ex(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                        const char **why)
{
    char buf[MAX_TEXT];
    size_t n;

    if (!s || !ss || !len)
        return fail(why, "no address");
    n = strlen(s);
    if (n >= sizeof(buf))
        return fail(why, "address too long");
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
        if (!strchr(buf, ':'))
            return fail(why, "brackets are only for IPv6 addresses");
    } else {
        memcpy(buf, s, n + 1);
    }
    return parse_ip_port(buf, 0, ss, len, why);
}

int vx_addr_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    return vx_addr_parse_ip_ex(s, ss, len, NULL);
}

static int format(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap, int with_port)
{
    char ip[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 1] = "";
    uint16_t port;
    int n;

    if (!sa || (!out && cap))
        return VX_ERR_BADADDR;
    if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        port = ntohs(sin->sin_port);
        n = with_port ? snprintf(out, cap, "%s:%u", ip, port) : snprintf(out, cap, "%s", ip);
    } else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        if (sin6->sin6_scope_id) {
            char name[IF_NAMESIZE];
            if (if_indextoname(sin6->sin6_scope_id, name))
                snprintf(zone, sizeof(zone), "%%%s", name);
            else
                snprintf(zone, sizeof(zone), "%%%u", (unsigned)sin6->sin6_scope_id);
        }
        port = ntohs(sin6->sin6_port);
        n = with_port ? snprintf(out, cap, "[%s%s]:%u", ip, zone, port)
                      : snprintf(out, cap, "%s%s", ip, zone);
    } else {
        if (cap)
            out[0] = '\0';
        return VX_ERR_BADADDR;
    }
    if (n < 0 || (size_t)n >= cap)
        return VX_ERR_TOOBIG;
    return n;
}

int vx_addr_format(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap)
{
    return format(sa, salen, out, cap, 1);
}

int vx_addr_format_ip(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap)
{
    return format(sa, salen, out, cap, 0);
}

/* A normalized view for comparison: 16 address bytes (IPv4 as ::ffff:a.b.c.d),
 * zone and port. */
struct norm {
    uint8_t a[16];
    uint32_t scope;
    uint16_t port;
    int family;
};

static void normalize(const struct sockaddr *sa, struct norm *n)
{
    memset(n, 0, sizeof(*n));
    if (!sa)
        return;
    n->family = sa->sa_family;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        n->a[10] = n->a[11] = 0xff;
        memcpy(n->a + 12, &sin->sin_addr, 4);
        n->port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        memcpy(n->a, &sin6->sin6_addr, 16);
        n->scope = sin6->sin6_scope_id;
        n->port = ntohs(sin6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            n->family = AF_INET;
            n->scope = 0;
        }
    }
}

static int cmp(const struct sockaddr *a, const struct sockaddr *b, int ports)
{
    struct norm x, y;
    int c;

    normalize(a, &x);
    normalize(b, &y);
    if (x.family != y.family)
        return x.family < y.family ? -1 : 1;
    if ((c = memcmp(x.a, y.a, 16)) != 0)
        return c < 0 ? -1 : 1;
    if (x.scope != y.scope)
        return x.scope < y.scope ? -1 : 1;
    if (ports && x.port != y.port)
        return x.port < y.port ? -1 : 1;
    return 0;
}

int vx_addr_cmp(const struct sockaddr *a, const struct sockaddr *b)
{
    return cmp(a, b, 1);
}

int vx_addr_cmp_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    return cmp(a, b, 0);
}

int vx_addr_is_loopback(const struct sockaddr *sa)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int vx_addr_is_any(const struct sockaddr *sa)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

uint16_t vx_addr_port(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa && sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

int vx_addr_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa && sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else if (sa && sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    else
        return VX_ERR_BADADDR;
    return 0;
}

void vx_addr_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    struct in_addr a4;
    uint16_t port;

    if (!ss || ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
        return;
    memcpy(&a4, sin6->sin6_addr.s6_addr + 12, 4);
    port = ntohs(sin6->sin6_port);
    set_v4(ss, len, &a4, port);
}

void vx_addr_map(struct sockaddr_storage *ss, socklen_t *len)
{
    struct in6_addr a6 = {0};
    uint16_t port;

    if (!ss || ss->ss_family != AF_INET)
        return;
    a6.s6_addr[10] = a6.s6_addr[11] = 0xff;
    memcpy(a6.s6_addr + 12, &((struct sockaddr_in *)ss)->sin_addr, 4);
    port = ntohs(((struct sockaddr_in *)ss)->sin_port);
    set_v6(ss, len, &a6, 0, port);
}

int vx_addr_to_ip(const struct sockaddr *sa, socklen_t salen, uint8_t ip[16], uint16_t *port)
{
    memset(ip, 0, 16);
    if (sa && sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        memcpy(ip, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return 4;
    }
    if (sa && sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        *port = ntohs(sin6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            memcpy(ip, sin6->sin6_addr.s6_addr + 12, 4);
            return 4;
        }
        memcpy(ip, sin6->sin6_addr.s6_addr, 16);
        return 6;
    }
    return VX_ERR_BADADDR;
}

int vx_addr_from_ip(struct sockaddr_storage *ss, socklen_t *len, int version, const uint8_t *ip,
                    uint16_t port)
{
    if (version == 4) {
        struct in_addr a4;
        memcpy(&a4, ip, 4);
        set_v4(ss, len, &a4, port);
        return 0;
    }
    if (version == 6) {
        struct in6_addr a6;
        memcpy(&a6, ip, 16);
        set_v6(ss, len, &a6, 0, port);
        return 0;
    }
    return VX_ERR_BADADDR;
}
