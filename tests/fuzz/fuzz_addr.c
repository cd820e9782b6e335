/* fuzz_addr.c — address text parsing (config listen/peer addresses, the
 * control socket's connect/peer arguments) on arbitrary strings.
 *
 * The first input byte picks the vx_addr_parse() flags; the rest is the
 * text.  Whatever parses must format within VX_ADDR_STRLEN and parse back to
 * an equal address; a failure must say why.  The raw bytes are also
 * formatted as a sockaddr, as for a peer address from the kernel, and
 * whatever parses must survive vx_addr_map() and the raw (version, ip,
 * port) form of the wire codecs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct sockaddr_storage *ss, socklen_t len, unsigned flags)
{
    char txt[VX_ADDR_STRLEN], ip[VX_ADDR_STRLEN];
    struct sockaddr_storage back;
    socklen_t blen;
    int n;

    if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
        abort();
    if (len !=
        (ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
        abort();
    n = vx_addr_format((const struct sockaddr *)ss, len, txt, sizeof(txt));
    if (n <= 0 || (size_t)n != strlen(txt))
        abort();
    if (vx_addr_parse(txt, flags | VX_ADDR_PORT0, &back, &blen) != 0)
        abort();
    if (vx_addr_cmp((const struct sockaddr *)ss, (const struct sockaddr *)&back) != 0)
        abort();
    if (vx_addr_cmp((const struct sockaddr *)&back, (const struct sockaddr *)ss) != 0)
        abort();
    n = vx_addr_format_ip((const struct sockaddr *)ss, len, ip, sizeof(ip));
    if (n <= 0 || vx_addr_parse_ip(ip, &back, &blen) != 0 ||
        vx_addr_cmp_ip((const struct sockaddr *)ss, (const struct sockaddr *)&back) != 0)
        abort();
    back = *ss;
    blen = len;
    vx_addr_unmap(&back, &blen);
    if (vx_addr_cmp((const struct sockaddr *)ss, (const struct sockaddr *)&back) != 0 ||
        vx_addr_port((const struct sockaddr *)&back) != vx_addr_port((const struct sockaddr *)ss))
        abort();
    back = *ss;
    blen = len;
    vx_addr_map(&back, &blen);
    if (back.ss_family != AF_INET6 || blen != sizeof(struct sockaddr_in6) ||
        vx_addr_cmp((const struct sockaddr *)ss, (const struct sockaddr *)&back) != 0)
        abort();

    /* the raw form of the wire codecs: no zone */
    uint8_t raw[16];
    uint16_t port = 0;
    int v = vx_addr_to_ip((const struct sockaddr *)ss, len, raw, &port);
    struct sockaddr_storage nozone = *ss;
    if (nozone.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&nozone)->sin6_scope_id = 0;
    if ((v != 4 && v != 6) || port != vx_addr_port((const struct sockaddr *)ss) ||
        vx_addr_from_ip(&back, &blen, v, raw, port) != 0 ||
        vx_addr_cmp((const struct sockaddr *)&nozone, (const struct sockaddr *)&back) != 0)
        abort();
    (void)vx_addr_is_loopback((const struct sockaddr *)ss);
    (void)vx_addr_is_any((const struct sockaddr *)ss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[256], out[VX_ADDR_STRLEN];
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why;
    unsigned flags;
    int rc;

    if (size < 1)
        return 0;
    flags = data[0] & (VX_ADDR_BARE_PORT_LOOPBACK | VX_ADDR_BARE_PORT_ANY | VX_ADDR_PORT0);

    /* The bytes as a kernel-supplied address of any length. */
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, data + 1, size - 1 < sizeof(ss) ? size - 1 : sizeof(ss));
    for (size_t cap = 0; cap <= VX_ADDR_STRLEN; cap += 9) {
        rc = vx_addr_format((const struct sockaddr *)&ss, (socklen_t)(size - 1), out, cap);
        if (rc >= 0 && ((size_t)rc >= cap || strlen(out) != (size_t)rc))
            abort();
        if (rc == VX_ERR_TOOBIG && cap && strlen(out) >= cap)
            abort();
    }

    size = size - 1 < sizeof(s) - 1 ? size - 1 : sizeof(s) - 1;
    memcpy(s, data + 1, size);
    s[size] = '\0';

    why = NULL;
    rc = vx_addr_parse_ex(s, flags, &ss, &len, &why);
    if (rc == 0)
        check_round_trip(&ss, len, flags);
    else if (rc != VX_ERR_BADADDR || !why)
        abort();

    why = NULL;
    rc = vx_addr_parse_ip_ex(s, &ss, &len, &why);
    if (rc == 0) {
        if (vx_addr_port((const struct sockaddr *)&ss) != 0)
            abort();
        check_round_trip(&ss, len, VX_ADDR_PORT0);
    } else if (rc != VX_ERR_BADADDR || !why) {
        abort();
    }
    return 0;
}
