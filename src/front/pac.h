/* pac.h — the proxy auto-config file the front-end serves at /proxy.pac.
 *
 * Browsers fetch it and call FindProxyForURL(url, host).  *.vx6 hosts go
 * through this proxy ("SOCKS5 h:p; SOCKS h:p; PROXY h:p", so a browser
 * without SOCKS5 falls back to HTTP CONNECT); everything else goes DIRECT.
 * VX_PAC_ALL (only sensible when clearnet passthrough is allowed) sends all
 * hosts but localhost and loopback literals through the proxy too.  Pure.
 */
#ifndef VX6_FRONT_PAC_H
#define VX6_FRONT_PAC_H

#include <stddef.h>
#include <stdint.h>

/* A PAC body always fits in this. */
#define VX_PAC_MAX 2048

enum vx_pac_mode {
    VX_PAC_VX6_ONLY = 0,
    VX_PAC_ALL = 1,
};

/* Write the PAC body for a proxy reachable at proxy_host:port (an IPv4 or
 * IPv6 literal, without brackets, or a host name: use the address the
 * browser reached, not a wildcard like 0.0.0.0).  Returns the length,
 * VX_ERR_INVAL for a host with characters outside [A-Za-z0-9.:_-], an
 * empty one, port 0 or a wildcard address, VX_ERR_TOOBIG when cap is short.
 * Serve it as application/x-ns-proxy-autoconfig. */
int vx_pac_build(const char *proxy_host, uint16_t port, enum vx_pac_mode mode, char *out,
                 size_t cap);

#endif
