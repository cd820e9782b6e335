/* sniff.c — protocol detection on the shared proxy port. */
#include "front/sniff.h"

#define METHOD_MAX 20

enum vx_front_proto vx_front_sniff(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return VX_FRONT_NEED_MORE;
    if (buf[0] == 0x04)
        return VX_FRONT_SOCKS4;
    if (buf[0] == 0x05)
        return VX_FRONT_SOCKS5;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        if (c == ' ' && i > 0)
            return VX_FRONT_HTTP;
        if (c < 'A' || c > 'Z' || i >= METHOD_MAX)
            return VX_FRONT_UNKNOWN;
    }
    return VX_FRONT_HTTP; /* only letters so far */
}

const char *vx_front_proto_name(enum vx_front_proto p)
{
    switch (p) {
    case VX_FRONT_SOCKS4:
        return "SOCKS4";
    case VX_FRONT_SOCKS5:
        return "SOCKS5";
    case VX_FRONT_HTTP:
        return "HTTP";
    case VX_FRONT_NEED_MORE:
        return "undecided";
    default:
        return "unknown";
    }
}
