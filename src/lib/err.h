/* err.h — VX6 error codes.
 *
 * Every function that can fail returns 0 (or a non-negative count) on
 * success and a negative VX_ERR_* code on failure.  vx_strerror() turns a code
 * into a short, user-readable phrase.  VX_ERR_SYS means "a system call failed;
 * errno says why" — callers that log it should log strerror(errno) as well.
 */
#ifndef VX6_LIB_ERR_H
#define VX6_LIB_ERR_H

enum vx_err {
    VX_OK = 0,
    VX_ERR_NOMEM = -1,          /* out of memory */
    VX_ERR_INVAL = -2,          /* invalid argument or malformed input */
    VX_ERR_TRUNC = -3,          /* input ends early: more bytes needed */
    VX_ERR_TOOBIG = -4,         /* a length or count exceeds its maximum */
    VX_ERR_AGAIN = -5,          /* would block, or a capped buffer is full */
    VX_ERR_SYS = -6,            /* a system call failed; see errno */
    VX_ERR_CRYPTO = -7,         /* authentication/decryption failed */
    VX_ERR_PROTO = -8,          /* peer violated the protocol */
    VX_ERR_VERSION = -9,        /* unsupported protocol or format version */
    VX_ERR_NOTFOUND = -10,      /* no such name, record, key or entry */
    VX_ERR_EXISTS = -11,        /* already exists */
    VX_ERR_PERM = -12,          /* unsafe file permissions or not permitted */
    VX_ERR_CORRUPT = -13,       /* stored data is damaged */
    VX_ERR_TIMEOUT = -14,       /* did not complete in time */
    VX_ERR_REFUSED = -15,       /* connection refused by the target */
    VX_ERR_UNREACH = -16,       /* node or network unreachable */
    VX_ERR_CLOSED = -17,        /* the peer or stream is closed */
    VX_ERR_LIMIT = -18,         /* a configured limit was reached */
    VX_ERR_PEER_ID = -19,       /* peer's identity is not the expected one */
    VX_ERR_EXPIRED = -20,       /* record or ticket expired */
    VX_ERR_REPLAY = -21,        /* replayed or reordered message */
    VX_ERR_BADSIG = -22,        /* signature does not verify */
    VX_ERR_CONFIG = -23,        /* configuration error */
    VX_ERR_BADADDR = -24,       /* malformed address or name */
    VX_ERR_DENIED = -25,        /* refused by policy (ACL, clearnet off) */
    VX_ERR_KEYCHANGED = -26,    /* pinned key differs from the one offered */
    VX_ERR_STALE = -27,         /* older sequence number than what we have */
    VX_ERR_RESET = -28,         /* stream reset by the peer */
    VX_ERR_AUTH = -29,          /* client authorization wrong */
    VX_ERR_INTERNAL = -30,      /* a bug: an invariant did not hold */
    VX_ERR_INTRO_FAILED = -31,  /* hidden service: every introduction point failed */
    VX_ERR_REND_FAILED = -32,   /* hidden service: rendezvous failed */
    VX_ERR_AUTH_MISSING = -33,  /* hidden service: client authorization required */
    VX_ERR_INTRO_TIMEOUT = -34, /* hidden service: introduction timed out */
    VX_ERR_ROUTE = -35,         /* the service's route policy refuses this path */
    VX_ERR_MIN_ = -36
};

/* A short phrase for an error code ("connection refused").  Never NULL. */
const char *vx_strerror(int err);

/* The symbolic name of an error code ("VX_ERR_REFUSED").  Never NULL. */
const char *vx_errname(int err);

#endif
