/* pac.c — proxy auto-config body. */
#include "front/pac.h"

#include <stdio.h>
#include <string.h>

#include "lib/err.h"

static int pac_host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '-' || c == '_'))
            return 0;
    }
    /* a listening wildcard is no address a browser can reach */
    return strcmp(h, "0.0.0.0") != 0 && strcmp(h, "::") != 0;
}

int vx_pac_build(const char *proxy_host, uint16_t port, enum vx_pac_mode mode, char *out,
                 size_t cap)
{
    char hp[300];
    int n;

    if (!proxy_host || !pac_host_ok(proxy_host) || port == 0)
        return VX_ERR_INVAL;
    if (strchr(proxy_host, ':'))
        snprintf(hp, sizeof(hp), "[%s]:%u", proxy_host, (unsigned)port);
    else
        snprintf(hp, sizeof(hp), "%s:%u", proxy_host, (unsigned)port);

    if (mode == VX_PAC_ALL)
        n = snprintf(out, cap,
                     "// vx6 proxy auto-config: every host but localhost through vx6.\n"
                     "function FindProxyForURL(url, host) {\n"
                     "    host = host.toLowerCase();\n"
                     "    if (host == \"localhost\" || host == \"127.0.0.1\" || "
                     "host == \"::1\" || host == \"[::1]\")\n"
                     "        return \"DIRECT\";\n"
                     "    return \"SOCKS5 %s; SOCKS %s; PROXY %s\";\n"
                     "}\n",
                     hp, hp, hp);
    else
        n = snprintf(out, cap,
                     "// vx6 proxy auto-config: *.vx6 through vx6, everything else DIRECT.\n"
                     "function FindProxyForURL(url, host) {\n"
                     "    host = host.toLowerCase();\n"
                     "    if (host.charAt(host.length - 1) == \".\")\n"
                     "        host = host.substring(0, host.length - 1);\n"
                     "    if (host.length > 4 && host.substring(host.length - 4) == \".vx6\")\n"
                     "        return \"SOCKS5 %s; SOCKS %s; PROXY %s\";\n"
                     "    return \"DIRECT\";\n"
                     "}\n",
                     hp, hp, hp);
    if (n < 0)
        return VX_ERR_INTERNAL;
    if ((size_t)n >= cap)
        return VX_ERR_TOOBIG;
    return n;
}
