/* errors.c — VX_ERR_* -> SOCKS5 reply code, HTTP status and reason line.
 *
 * The table (kept in sync with tests/unit/test_front_errors.c):
 *
 *   VX_ERR_*        SOCKS5                    HTTP  line ("vx6: ...")
 *   (0)             0x00 succeeded            200
 *   NOTFOUND        0xF0 record not found     404   no record for HOST
 *   EXPIRED         0xF0 record not found     404   record for HOST expired
 *   BADSIG          0xF1 record invalid       502   bad signature on record for HOST
 *   CORRUPT         0xF1 record invalid       502   invalid record for HOST
 *   STALE           0xF1 record invalid       502   stale record for HOST
 *   KEYCHANGED      0xF1 record invalid       403   key for HOST changed; run 'vx6 trust'
 *   AUTH            0xF5 wrong client auth    403   client authorization for HOST is wrong
 *   AUTH_MISSING    0xF4 missing client auth  403   HOST requires client authorization
 *   INTRO_FAILED    0xF2 intro failed         502   every introduction point of HOST failed
 *   REND_FAILED     0xF3 rendezvous failed    502   rendezvous with HOST failed
 *   INTRO_TIMEOUT   0xF7 intro timed out      504   introduction to HOST timed out
 *   BADADDR         0xF6 bad address          400   malformed address HOST
 *   INVAL           0x01 general failure      400   invalid request for HOST
 *   TRUNC, TOOBIG   0x01 general failure      400   malformed / too large request
 *   DENIED, PERM    0x02 not allowed          403   HOST not allowed (clearnet passthrough is off)
 *   UNREACH         0x04 host unreachable     502   HOST is unreachable
 *   PEER_ID         0x04 host unreachable     502   HOST answered with an unexpected key
 *   REFUSED         0x05 connection refused   502   connection refused by HOST
 *   TIMEOUT         0x06 TTL expired          504   timed out reaching HOST
 *   everything else 0x01 general failure      502   HOST: <vx_strerror()>
 */
#include "front/errors.h"

#include <stdio.h>

#include "lib/err.h"

struct err_map {
    int err;
    uint8_t socks5;
    int http;
    const char *fmt; /* %s is the host */
};

static const struct err_map err_table[] = {
        {VX_OK, VX_SOCKS5_SUCCEEDED, 200, "connected to %s"},
        {VX_ERR_NOTFOUND, VX_SOCKS5_DESC_NOT_FOUND, 404, "no record for %s"},
        {VX_ERR_EXPIRED, VX_SOCKS5_DESC_NOT_FOUND, 404, "record for %s expired"},
        {VX_ERR_BADSIG, VX_SOCKS5_DESC_INVALID, 502, "bad signature on record for %s"},
        {VX_ERR_CORRUPT, VX_SOCKS5_DESC_INVALID, 502, "invalid record for %s"},
        {VX_ERR_STALE, VX_SOCKS5_DESC_INVALID, 502, "stale record for %s"},
        {VX_ERR_KEYCHANGED, VX_SOCKS5_DESC_INVALID, 403,
         "key for %s changed; run 'vx6 trust' to accept the new key"},
        {VX_ERR_AUTH, VX_SOCKS5_WRONG_AUTH, 403, "client authorization for %s is wrong"},
        {VX_ERR_AUTH_MISSING, VX_SOCKS5_MISSING_AUTH, 403, "%s requires client authorization"},
        {VX_ERR_INTRO_FAILED, VX_SOCKS5_INTRO_FAILED, 502, "every introduction point of %s failed"},
        {VX_ERR_REND_FAILED, VX_SOCKS5_REND_FAILED, 502, "rendezvous with %s failed"},
        {VX_ERR_INTRO_TIMEOUT, VX_SOCKS5_INTRO_TIMED_OUT, 504, "introduction to %s timed out"},
        {VX_ERR_BADADDR, VX_SOCKS5_BAD_ADDRESS, 400, "malformed address %s"},
        {VX_ERR_INVAL, VX_SOCKS5_GENERAL_FAILURE, 400, "invalid request for %s"},
        {VX_ERR_TRUNC, VX_SOCKS5_GENERAL_FAILURE, 400, "malformed request for %s"},
        {VX_ERR_TOOBIG, VX_SOCKS5_GENERAL_FAILURE, 400, "request for %s too large"},
        {VX_ERR_DENIED, VX_SOCKS5_NOT_ALLOWED, 403,
         "%s not allowed (only .vx6 names; clearnet passthrough is off)"},
        {VX_ERR_PERM, VX_SOCKS5_NOT_ALLOWED, 403, "%s not permitted"},
        {VX_ERR_ROUTE, VX_SOCKS5_NOT_ALLOWED, 403,
         "%s refuses this path: its owner takes it through relay circuits only, or direct "
         "only"},
        {VX_ERR_UNREACH, VX_SOCKS5_HOST_UNREACHABLE, 502, "%s is unreachable"},
        {VX_ERR_PEER_ID, VX_SOCKS5_HOST_UNREACHABLE, 502, "%s answered with an unexpected key"},
        {VX_ERR_REFUSED, VX_SOCKS5_CONN_REFUSED, 502, "connection refused by %s"},
        {VX_ERR_TIMEOUT, VX_SOCKS5_TTL_EXPIRED, 504, "timed out reaching %s"},
};

static const struct err_map *err_find(int err)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return NULL;
}

uint8_t vx_front_socks5_code(int err)
{
    const struct err_map *m = err_find(err);
    return m ? m->socks5 : VX_SOCKS5_GENERAL_FAILURE;
}

uint8_t vx_socks4_code(uint8_t socks5_rep)
{
    return socks5_rep == VX_SOCKS5_SUCCEEDED ? VX_SOCKS4_GRANTED : VX_SOCKS4_REJECTED;
}

int vx_front_http_status(int err)
{
    const struct err_map *m = err_find(err);
    return m ? m->http : 502;
}

const char *vx_http_reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 407:
        return "Proxy Authentication Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

size_t vx_front_err_line(int err, const char *host, char *out, size_t cap)
{
    const struct err_map *m = err_find(err);
    char what[320];
    int n;

    if (!cap)
        return 0;
    if (!host || !*host)
        host = "the destination";
    if (m) {
        /* The format strings are fixed above; each has exactly one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n = snprintf(what, sizeof(what), m->fmt, host);
#pragma GCC diagnostic pop
    } else {
        n = snprintf(what, sizeof(what), "%s: %s", host, vx_strerror(err));
    }
    if (n < 0)
        what[0] = '\0';
    n = snprintf(out, cap, "vx6: %s", what);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
