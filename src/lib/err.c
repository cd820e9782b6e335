/* err.c — VX6 error code strings. */
#include "lib/err.h"

#include <stddef.h>

struct err_desc {
    const char *name;
    const char *text;
};

static const struct err_desc err_table[] = {
        [0] = {"VX_OK", "success"},
        [1] = {"VX_ERR_NOMEM", "out of memory"},
        [2] = {"VX_ERR_INVAL", "invalid argument or malformed input"},
        [3] = {"VX_ERR_TRUNC", "input truncated"},
        [4] = {"VX_ERR_TOOBIG", "too large"},
        [5] = {"VX_ERR_AGAIN", "try again later"},
        [6] = {"VX_ERR_SYS", "system call failed"},
        [7] = {"VX_ERR_CRYPTO", "authentication failed"},
        [8] = {"VX_ERR_PROTO", "protocol violation"},
        [9] = {"VX_ERR_VERSION", "unsupported version"},
        [10] = {"VX_ERR_NOTFOUND", "not found"},
        [11] = {"VX_ERR_EXISTS", "already exists"},
        [12] = {"VX_ERR_PERM", "permission denied or unsafe permissions"},
        [13] = {"VX_ERR_CORRUPT", "data corrupt"},
        [14] = {"VX_ERR_TIMEOUT", "timed out"},
        [15] = {"VX_ERR_REFUSED", "connection refused"},
        [16] = {"VX_ERR_UNREACH", "unreachable"},
        [17] = {"VX_ERR_CLOSED", "closed"},
        [18] = {"VX_ERR_LIMIT", "limit reached"},
        [19] = {"VX_ERR_PEER_ID", "peer identity mismatch"},
        [20] = {"VX_ERR_EXPIRED", "expired"},
        [21] = {"VX_ERR_REPLAY", "replayed or reordered message"},
        [22] = {"VX_ERR_BADSIG", "bad signature"},
        [23] = {"VX_ERR_CONFIG", "configuration error"},
        [24] = {"VX_ERR_BADADDR", "bad address"},
        [25] = {"VX_ERR_DENIED", "denied by policy"},
        [26] = {"VX_ERR_KEYCHANGED", "key changed since first seen"},
        [27] = {"VX_ERR_STALE", "stale record"},
        [28] = {"VX_ERR_RESET", "stream reset by peer"},
        [29] = {"VX_ERR_AUTH", "client authorization wrong"},
        [30] = {"VX_ERR_INTERNAL", "internal error"},
        [31] = {"VX_ERR_INTRO_FAILED", "introduction failed"},
        [32] = {"VX_ERR_REND_FAILED", "rendezvous failed"},
        [33] = {"VX_ERR_AUTH_MISSING", "client authorization missing"},
        [34] = {"VX_ERR_INTRO_TIMEOUT", "introduction timed out"},
        [35] = {"VX_ERR_ROUTE", "refused by the service's route policy"},
};

static const struct err_desc *err_lookup(int err)
{
    if (err > 0 || err <= VX_ERR_MIN_)
        return NULL;
    return &err_table[-err];
}

const char *vx_strerror(int err)
{
    const struct err_desc *d = err_lookup(err);
    return d ? d->text : "unknown error";
}

const char *vx_errname(int err)
{
    const struct err_desc *d = err_lookup(err);
    return d ? d->name : "VX_ERR_UNKNOWN";
}
