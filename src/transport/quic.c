/* quic.c — the QUIC carrier of transport.h: ngtcp2 0.12 + GnuTLS.
 *
 * Objects:
 *   quic_transport  listeners (shared UDP sockets, demultiplexed by DCID), the
 *                   connection list, token secrets, one ev_prepare that runs
 *                   deferred work (stream processing, packet writing, freeing)
 *   quic_conn       one ngtcp2_conn + GnuTLS session, state QC_HANDSHAKE ->
 *                   QC_OPEN -> QC_DEAD; exactly one ev_timer, re-armed from
 *                   ngtcp2_conn_get_expiry() and the stream deadlines.  A conn
 *                   we dialled owns its UDP socket(s) (two during migration).
 *   quic_stream     one bidirectional QUIC stream; states below.
 *
 * Nothing is freed synchronously: API calls and ngtcp2 callbacks only change
 * state and set want_process / want_write; the prepare watcher does the work
 * and frees streams whose user released them AND whose QUIC stream is closed
 * (ngtcp2 may still point into their send queue until then), then conns that
 * are dead and empty.  User callbacks never run inside ngtcp2 callbacks.
 */
#include "transport/quic.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <linux/errqueue.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/transport_impl.h"
#include "wire/frame.h"

#define SCID_LEN        18
#define MAX_CIDS        8
#define MAX_LISTENERS   4
#define RX_BATCH        8
#define RX_SLOT         65536 /* one datagram, or a GRO train of them */
#define TX_MSGS         16    /* messages per sendmmsg */
#define TX_SLOT         NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define TX_BUF          (TX_MSGS * 44 * TX_SLOT) /* every message a full GSO train */
#define GSO_MAX_SEGS    44                       /* 44 * 1452 < 64 KiB, the limit of one UDP send */
#define GSO_MAX_BYTES   (GSO_MAX_SEGS * TX_SLOT)
#define MAX_BURST       176 /* packets per conn_write (the pacing rules below) */
#define SQ_CHUNK        16384
#define PACING_SLACK    NGTCP2_MILLISECONDS /* ngtcp2's own pacing allowance */
#define RD_CHUNKS       16 /* a spliced fd is read into up to this many new chunks at once */
#define TOKEN_ROTATE_NS (600 * (uint64_t)NGTCP2_SECONDS)
#define RETRY_TOKEN_TTL (10 * NGTCP2_SECONDS)
#define TOKEN_CACHE     16
#define SOCK_BUF        (4 * 1024 * 1024)

static const char *const tls_priority =
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
        "+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
        "-SIGN-ALL:+SIGN-EDDSA-ED25519:%DISABLE_TLS13_COMPAT_MODE";

/* ------------------------------------------------------------------------ */
/* Stream-open exchange and reason codes: the same STREAM_OPEN / OPEN_OK /
 * OPEN_FAIL frames and wire reasons as the TCP sessions (wire/frame.h), sent
 * as the first bytes of the QUIC stream.  The frame's sid is the QUIC stream
 * ID / 4 + 1 (the index of the bidirectional stream, from 1) and must match. */

#define OPEN_MAX_LEN VX_FRAME_MAX_CTRL

static uint16_t reason_from_err(int err)
{
    return err ? vx_wire_reason_from_err(err) : VX_RSN_NONE;
}

static int reason_to_err(uint64_t code)
{
    if (code == VX_RSN_NONE)
        return 0;
    return code > UINT16_MAX ? VX_ERR_RESET : vx_wire_reason_to_err((uint16_t)code);
}

static uint32_t open_sid(int64_t quic_sid)
{
    return (uint32_t)(quic_sid >> 2) + 1;
}

static int target_valid(const struct vx_stream_target *tgt)
{
    size_t nlen = strnlen(tgt->name, sizeof(tgt->name));
    return tgt->kind >= VX_TARGET_SERVICE && tgt->kind <= VX_TARGET_RELAY &&
           nlen <= VX_TARGET_NAME_MAX && tgt->data_len <= VX_TARGET_DATA_MAX;
}

/* 0 and *len, or VX_ERR_TOOBIG / VX_ERR_INVAL. */
static int open_req_encode(const struct vx_stream_target *tgt, int64_t quic_sid,
                           uint8_t out[OPEN_MAX_LEN], size_t *len)
{
    struct vx_frame f;

    memset(&f, 0, sizeof(f));
    f.type = VX_FR_STREAM_OPEN;
    f.sid = open_sid(quic_sid);
    f.target.kind = tgt->kind;
    f.target.port = tgt->port;
    memcpy(f.target.name, tgt->name, strnlen(tgt->name, sizeof(tgt->name)));
    f.target.data_len = tgt->data_len;
    memcpy(f.target.data, tgt->data, tgt->data_len);
    return vx_frame_encode(&f, out, OPEN_MAX_LEN, len);
}

/* 0 and *used, VX_ERR_TRUNC (need more), VX_ERR_PROTO. */
static int open_req_decode(const uint8_t *in, size_t n, int64_t quic_sid,
                           struct vx_stream_target *tgt, size_t *used)
{
    struct vx_frame f;
    int rv = vx_frame_decode(in, n, &f, used);

    if (rv == VX_ERR_TRUNC && n < OPEN_MAX_LEN)
        return VX_ERR_TRUNC;
    if (rv < 0 || f.type != VX_FR_STREAM_OPEN || f.sid != open_sid(quic_sid))
        return VX_ERR_PROTO;
    memset(tgt, 0, sizeof(*tgt));
    tgt->kind = f.target.kind;
    tgt->port = f.target.port;
    memcpy(tgt->name, f.target.name, sizeof(f.target.name));
    tgt->data_len = f.target.data_len;
    memcpy(tgt->data, f.target.data, f.target.data_len);
    return target_valid(tgt) ? 0 : VX_ERR_PROTO;
}

static size_t open_reply_encode(int status, int64_t quic_sid, uint8_t out[OPEN_MAX_LEN])
{
    struct vx_frame f;
    size_t len = 0;

    memset(&f, 0, sizeof(f));
    f.type = status ? VX_FR_OPEN_FAIL : VX_FR_OPEN_OK;
    f.sid = open_sid(quic_sid);
    f.reason = vx_wire_reason_from_err(status);
    if (vx_frame_encode(&f, out, OPEN_MAX_LEN, &len) < 0)
        abort(); /* a fixed-size control frame always fits */
    return len;
}

/* 0 and *status / *used, VX_ERR_TRUNC, VX_ERR_PROTO. */
static int open_reply_decode(const uint8_t *in, size_t n, int64_t quic_sid, int *status,
                             size_t *used)
{
    struct vx_frame f;
    int rv = vx_frame_decode(in, n, &f, used);

    if (rv == VX_ERR_TRUNC)
        return VX_ERR_TRUNC;
    if (rv < 0 || f.sid != open_sid(quic_sid))
        return VX_ERR_PROTO;
    if (f.type == VX_FR_OPEN_OK) {
        *status = 0;
        return 0;
    }
    if (f.type != VX_FR_OPEN_FAIL)
        return VX_ERR_PROTO;
    *status = vx_wire_reason_to_err(f.reason);
    if (*status == 0)
        *status = VX_ERR_REFUSED;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Send queue: chunks that never move, so ngtcp2 may point into them until
 * the bytes are acknowledged.  [head+head_off, end) is unacknowledged;
 * [cur+cur_off, end) has not been handed to ngtcp2 yet. */

struct sq_chunk {
    struct sq_chunk *next;
    size_t len;
    uint8_t d[SQ_CHUNK];
};

struct sendq {
    struct sq_chunk *head, *tail, *cur;
    size_t head_off, cur_off;
    size_t len;    /* unacknowledged bytes */
    size_t unsent; /* of which not yet given to ngtcp2 */
    size_t chunks;
};

static struct sq_chunk *sq_chunk_new(void)
{
    struct sq_chunk *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->next = NULL;
    c->len = 0;
    return c;
}

/* Append the empty chunk c; sq_commit() then fills it. */
static void sq_push(struct sendq *q, struct sq_chunk *c)
{
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->chunks++;
}

static uint8_t *sq_reserve(struct sendq *q, size_t *room)
{
    if (!q->tail || q->tail->len == SQ_CHUNK)
        sq_push(q, sq_chunk_new());
    *room = SQ_CHUNK - q->tail->len;
    return q->tail->d + q->tail->len;
}

static void sq_commit(struct sendq *q, size_t n)
{
    if (q->unsent == 0) {
        q->cur = q->tail;
        q->cur_off = q->tail->len;
    }
    q->tail->len += n;
    q->len += n;
    q->unsent += n;
}

static void sq_append(struct sendq *q, const uint8_t *data, size_t n)
{
    while (n) {
        size_t room, k;
        uint8_t *p = sq_reserve(q, &room);
        k = n < room ? n : room;
        memcpy(p, data, k);
        sq_commit(q, k);
        data += k;
        n -= k;
    }
}

static size_t sq_vec(const struct sendq *q, ngtcp2_vec *v, size_t nmax, size_t *total)
{
    const struct sq_chunk *c = q->cur;
    size_t off = q->cur_off, n = 0, left = q->unsent;

    *total = 0;
    while (c && left && n < nmax) {
        size_t k = c->len - off;
        if (k > left)
            k = left;
        if (k) {
            v[n].base = (uint8_t *)c->d + off;
            v[n].len = k;
            n++;
            left -= k;
            *total += k;
        }
        c = c->next;
        off = 0;
    }
    return n;
}

static void sq_consume(struct sendq *q, size_t n)
{
    q->unsent -= n;
    while (n) {
        size_t k = q->cur->len - q->cur_off;
        if (k > n)
            k = n;
        q->cur_off += k;
        n -= k;
        if (q->cur_off == q->cur->len && q->cur->next) {
            q->cur = q->cur->next;
            q->cur_off = 0;
        }
    }
    if (q->unsent == 0)
        q->cur = NULL;
}

static void sq_ack(struct sendq *q, size_t n)
{
    if (n > q->len - q->unsent)
        n = q->len - q->unsent;
    q->len -= n;
    while (n || (q->head && q->head_off == SQ_CHUNK)) {
        size_t k = q->head->len - q->head_off;
        if (k > n)
            k = n;
        q->head_off += k;
        n -= k;
        if (q->head_off == q->head->len && (q->head != q->tail || q->head->len == SQ_CHUNK)) {
            struct sq_chunk *c = q->head;
            if (q->cur == c)
                q->cur = NULL;
            q->head = c->next;
            if (!q->head)
                q->tail = NULL;
            q->head_off = 0;
            q->chunks--;
            free(c);
        } else if (!n) {
            break;
        }
    }
}

static void sq_clear(struct sendq *q)
{
    while (q->head) {
        struct sq_chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    memset(q, 0, sizeof(*q));
}

/* ------------------------------------------------------------------------ */

enum qs_state {
    QS_WAIT_CONN,  /* opener: waiting for the connection / a stream credit */
    QS_WAIT_REPLY, /* opener: request sent, waiting for OK / FAIL */
    QS_WAIT_REQ,   /* acceptor: request not complete yet */
    QS_ACCEPTING,  /* acceptor: handed to accept_fn, waiting vx_stream_accept */
    QS_OPEN,       /* open, maybe spliced */
    QS_DONE,       /* user released it; may linger until QUIC closes it */
};

enum qc_state { QC_HANDSHAKE, QC_OPEN, QC_DEAD };

struct quic_transport;
struct quic_conn;

struct quic_sock {
    int fd;
    ev_io io;
    struct sockaddr_storage local;
    socklen_t locallen;
    struct quic_transport *qt;
    struct quic_conn *owner; /* NULL for a listener */
    int want_out;
};

struct quic_stream {
    struct vx_stream_base base;
    struct quic_conn *c;
    struct quic_stream *next, *prev;
    int64_t sid;
    enum qs_state state;
    int opener;
    struct vx_stream_cbs cbs;
    void *arg;
    struct vx_stream_target tgt; /* opener: sent once the QUIC stream exists */
    uint64_t deadline;           /* ns, for the opening states */
    struct sendq sq;
    struct vx_buf *rb;
    int fd;
    ev_io rio, wio;
    unsigned spliced : 1, rd_eof : 1, fin_queued : 1, fin_sent : 1, peer_fin : 1, wr_shut : 1,
            quic_closed : 1, user_gone : 1, accept_late : 1, counted : 1;
    /* byte-level access (vx_stream_attach): rb holds what on_data left */
    struct vx_stream_io io;
    void *io_arg;
    unsigned attached : 1, paused : 1, want_writable : 1, fin_delivered : 1;
    int peer_reset; /* VX_ERR_* from a RESET_STREAM / STOP_SENDING, 0 if none */
    unsigned blk_gen;
    int rd_chunks; /* new send queue chunks for the next read of fd */
};

struct quic_conn {
    struct quic_transport *qt;
    struct quic_conn *next, *prev;
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    ngtcp2_crypto_conn_ref ref;
    enum qc_state state;
    int client;
    uint64_t iso; /* dialled for this target.isolation (0: the shared one) */
    int err;
    int peer_id_err;           /* set by the certificate check */
    struct quic_sock *sock[2]; /* client: own sockets (two while migrating) */
    struct quic_sock *lsock;   /* server: the listener it came in on */
    ev_timer timer;
    uint8_t peer_id[VX_NODE_ID_LEN];
    int have_peer_id, expect_id;
    struct sockaddr_storage dial;
    socklen_t diallen;
    struct quic_stream *streams, *streams_tail;
    ngtcp2_cid cids[MAX_CIDS];
    size_t ncids;
    uint64_t established_ms, idle_since, key_ts, key_bytes;
    uint64_t bytes_in, bytes_out;
    int64_t rr_sid;
    unsigned wgen;
    int want_process, want_write, send_blocked, pv_done;
    uint64_t probe_until; /* ns: an ICMP error named the peer; dead if silent until then */
};

struct token_entry {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
    size_t len;
    uint64_t used;
};

/* Control-message space for UDP_SEGMENT / UDP_GRO, aligned for cmsghdr. */
union cmsg_buf {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
};

struct quic_transport {
    struct vx_transport_base base;
    struct vx_identity id;
    struct vx_transport_conf conf;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    struct quic_sock *listeners[MAX_LISTENERS];
    int nlisteners;
    struct quic_conn *conns;
    size_t nconns;
    ev_prepare prep;
    ev_idle idle;
    int work;
    uint8_t reset_secret[32];
    uint8_t token_secret[2][32];
    uint64_t token_rotated;
    struct token_entry tokens[TOKEN_CACHE];
    struct vx_transport_stats st;
    /* Transmit batch: packets are written back to back into txbuf; runs of
     * equal-sized packets to one destination become one message sent with
     * UDP GSO (UDP_SEGMENT), all messages of a socket go in one sendmmsg. */
    uint8_t txbuf[TX_BUF];
    size_t txoff; /* where the next packet is written */
    struct mmsghdr txmsg[TX_MSGS];
    struct iovec txiov[TX_MSGS];
    struct sockaddr_storage txaddr[TX_MSGS];
    size_t txseg[TX_MSGS];  /* segment size of message i */
    size_t txnseg[TX_MSGS]; /* segments in message i */
    int txopen;             /* the last message may take more segments */
    union cmsg_buf txctl[TX_MSGS];
    int ntx;
    struct quic_sock *txsock;
    int no_gso, no_gro;
    vx_quic_foreign_fn foreign_fn; /* non-QUIC datagrams on a listener */
    void *foreign_arg;
    uint64_t foreign_in;
    /* receive batch */
    uint8_t rxbuf[RX_BATCH][RX_SLOT];
    union cmsg_buf rxctl[RX_BATCH];
};

static const struct vx_transport_ops quic_ops;
static const struct vx_stream_ops quic_stream_ops;

static void conn_arm_timer(struct quic_conn *c);
static void conn_write(struct quic_conn *c);
static void conn_die(struct quic_conn *c, int err);
static void stream_update_io(struct quic_stream *s);
static void sock_recverr(int fd, int family);
static void conn_unreachable(struct quic_conn *c, const char *how);
static void conn_probe_answered(struct quic_conn *c);
static int conn_probe_expired(struct quic_conn *c, uint64_t now);
static void sock_errqueue(struct quic_sock *qs);

static uint64_t now_ns(void)
{
    return vx_time_mono_ns();
}

static void mark(struct quic_conn *c, int process, int write)
{
    if (process)
        c->want_process = 1;
    if (write)
        c->want_write = 1;
    c->qt->work = 1;
}

/* ------------------------------------------------------------------------ */
/* Logging glue. */

static void ngtcp2_log_cb(void *user_data, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void ngtcp2_log_cb(void *user_data, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    (void)user_data;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_debug(LD_QUIC, "ngtcp2: %s", line);
}

static void gnutls_log_cb(int level, const char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    log_debug(LD_TLS, "gnutls<%d>: %.*s", level, (int)n, msg);
}

static const char *addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    char host[64];
    const void *a;
    unsigned port;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        a = &s6->sin6_addr;
        port = ntohs(s6->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        a = &s4->sin_addr;
        port = ntohs(s4->sin_port);
    } else {
        snprintf(buf, cap, "?");
        return buf;
    }
    if (!inet_ntop(sa->sa_family, a, host, sizeof(host)))
        snprintf(host, sizeof(host), "?");
    snprintf(buf, cap, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
    return buf;
}

static int sockaddr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    return 0;
}

static int liberr_to_vx(int rv)
{
    switch (rv) {
    case NGTCP2_ERR_IDLE_CLOSE:
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
        return VX_ERR_TIMEOUT;
    case NGTCP2_ERR_DRAINING:
    case NGTCP2_ERR_CLOSING:
        return VX_ERR_CLOSED;
    case NGTCP2_ERR_CRYPTO:
        return VX_ERR_CRYPTO;
    case NGTCP2_ERR_RECV_VERSION_NEGOTIATION:
        return VX_ERR_VERSION;
    case NGTCP2_ERR_NOMEM:
        return VX_ERR_NOMEM;
    default:
        return VX_ERR_PROTO;
    }
}

/* ------------------------------------------------------------------------ */
/* Certificates: a self-signed X.509 certificate over the node's Ed25519 key. */

static int make_credentials(struct quic_transport *qt)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t x = {(unsigned char *)qt->id.pk, VX_PK_LEN};
    gnutls_datum_t k = {(unsigned char *)qt->id.sk, VX_SEED_LEN};
    char cn[VX_NODE_ID_STRLEN + 1];
    uint8_t serial[16];
    time_t now = time(NULL);
    int rv = VX_ERR_CRYPTO;

    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_import_ecc_raw(key, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k) < 0)
        goto out;
    if (gnutls_x509_crt_init(&crt) < 0)
        goto out;
    randombytes_buf(serial, sizeof(serial));
    serial[0] &= 0x7f;
    vx_node_id_to_str(qt->id.node_id, cn, sizeof(cn));
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 86400) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + 20 * 365 * 86400L) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)) < 0 ||
        gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA512, 0) < 0)
        goto out;
    if (gnutls_certificate_allocate_credentials(&qt->cred) < 0)
        goto out;
    if (gnutls_certificate_set_x509_key(qt->cred, &crt, 1, key) < 0)
        goto out;
    rv = 0;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rv;
}

/* Called by GnuTLS (inside the handshake) with the peer's certificate. */
static int verify_peer_cb(gnutls_session_t session)
{
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
    struct quic_conn *c = ref->user_data;
    const gnutls_datum_t *certs;
    unsigned int ncerts = 0;
    gnutls_x509_crt_t crt = NULL;
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    uint8_t id[VX_NODE_ID_LEN];
    int ok = 0;

    certs = gnutls_certificate_get_peers(session, &ncerts);
    if (!certs || ncerts < 1 || gnutls_x509_crt_init(&crt) < 0)
        goto out;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0)
        goto out;
    if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) != GNUTLS_PK_EDDSA_ED25519)
        goto out;
    if (gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y) < 0 ||
        curve != GNUTLS_ECC_CURVE_ED25519 || x.size != VX_PK_LEN)
        goto out;
    vx_node_id_from_pk(x.data, id);
    if (c->expect_id) {
        ok = sodium_memcmp(id, c->peer_id, VX_NODE_ID_LEN) == 0;
    } else {
        memcpy(c->peer_id, id, VX_NODE_ID_LEN);
        ok = 1;
    }
out:
    gnutls_free(x.data);
    gnutls_free(y.data);
    gnutls_x509_crt_deinit(crt);
    if (!ok) {
        c->peer_id_err = 1;
        log_info(LD_QUIC, "QUIC peer presented the wrong identity; refusing the connection");
        return -1;
    }
    c->have_peer_id = 1;
    return 0;
}

static ngtcp2_conn *get_conn_cb(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct quic_conn *)ref->user_data)->conn;
}

static int tls_session_new(struct quic_conn *c)
{
    struct quic_transport *qt = c->qt;
    gnutls_datum_t alpn = {(unsigned char *)VX_QUIC_ALPN, sizeof(VX_QUIC_ALPN) - 1};
    unsigned flags = c->client ? GNUTLS_CLIENT : GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET;

    if (gnutls_init(&c->tls, flags) < 0)
        return VX_ERR_CRYPTO;
    if ((c->client ? ngtcp2_crypto_gnutls_configure_client_session(c->tls)
                   : ngtcp2_crypto_gnutls_configure_server_session(c->tls)) != 0)
        return VX_ERR_CRYPTO;
    if (gnutls_priority_set(c->tls, qt->prio) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, qt->cred) < 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) < 0)
        return VX_ERR_CRYPTO;
    if (!c->client)
        gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUIRE);
    c->ref.get_conn = get_conn_cb;
    c->ref.user_data = c;
    gnutls_session_set_ptr(c->tls, &c->ref);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* UDP sockets. */

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents);

static void sock_free(struct quic_sock *qs)
{
    if (!qs)
        return;
    ev_io_stop(qs->qt->base.loop, &qs->io);
    close(qs->fd);
    free(qs);
}

static void sock_bufs(int fd)
{
    int sz = SOCK_BUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* A UDP socket bound to sa (listener) or connected to peer (dialled conn). */
static struct quic_sock *sock_new(struct quic_transport *qt, const struct sockaddr *bind_sa,
                                  socklen_t bind_len, const struct sockaddr *peer,
                                  socklen_t peer_len, int *err)
{
    struct quic_sock *qs;
    int fd, one = 1, zero = 0;
    int family = bind_sa ? bind_sa->sa_family : peer->sa_family;

    fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    /* No SO_REUSEADDR: UDP has no TIME_WAIT to skip, and on Linux it lets
     * sockets that both set it share a port — bind() to port 0 may then
     * return a port another node (or process) is already listening on, and
     * its datagrams reach the wrong node. */
    if (bind_sa) {
        if (bind(fd, bind_sa, bind_len) < 0)
            goto fail;
    }
    if (peer && connect(fd, peer, peer_len) < 0)
        goto fail;
    if (!peer)
        sock_recverr(fd, family);
    sock_bufs(fd);
    if (!qt->no_gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0)
        qt->no_gro = 1; /* an older kernel: one datagram per read */
    qs = calloc(1, sizeof(*qs));
    if (!qs)
        abort();
    qs->fd = fd;
    qs->qt = qt;
    qs->locallen = sizeof(qs->local);
    if (getsockname(fd, (struct sockaddr *)&qs->local, &qs->locallen) < 0) {
        free(qs);
        goto fail;
    }
    ev_io_init(&qs->io, sock_cb, fd, EV_READ);
    qs->io.data = qs;
    ev_io_start(qt->base.loop, &qs->io);
    return qs;
fail:
    *err = VX_ERR_SYS;
    if (fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return NULL;
}

static void tx_reset(struct quic_transport *qt)
{
    qt->ntx = 0;
    qt->txoff = 0;
    qt->txopen = 0;
    qt->txsock = NULL;
}

/* Send what is batched.  Returns only when everything went out or the
 * socket is full (the rest is left to QUIC loss recovery). */
static void tx_flush(struct quic_transport *qt)
{
    struct quic_sock *qs = qt->txsock;
    int off = 0, icmp_seen = 0;

    for (int i = 0; i < qt->ntx; i++) {
        struct msghdr *m = &qt->txmsg[i].msg_hdr;
        if (qt->txnseg[i] > 1) {
            struct cmsghdr *cm;
            m->msg_control = qt->txctl[i].buf;
            m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
            cm = CMSG_FIRSTHDR(m);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            *(uint16_t *)(void *)CMSG_DATA(cm) = (uint16_t)qt->txseg[i];
        }
    }
    while (off < qt->ntx) {
        int n = sendmmsg(qs->fd, qt->txmsg + off, (unsigned)(qt->ntx - off), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                /* Leave the rest to QUIC loss recovery; resume on POLLOUT. */
                if (!qs->want_out) {
                    qs->want_out = 1;
                    ev_io_stop(qt->base.loop, &qs->io);
                    ev_io_set(&qs->io, qs->fd, EV_READ | EV_WRITE);
                    ev_io_start(qt->base.loop, &qs->io);
                }
                if (qs->owner)
                    qs->owner->send_blocked = 1;
            } else if ((errno == EIO || errno == EINVAL) && qt->txnseg[off] > 1 && !qt->no_gso) {
                /* The route's device cannot segment: no GSO from now on. */
                log_info(LD_QUIC, "UDP GSO unavailable (%s); sending datagrams one by one",
                         strerror(errno));
                qt->no_gso = 1;
            } else if (!icmp_seen &&
                       (errno == ECONNREFUSED ||
                        (!qs->owner && (errno == EHOSTUNREACH || errno == ENETUNREACH)))) {
                /* a pending ICMP error, reported instead of sending: note
                 * it, then send once more */
                icmp_seen = 1;
                if (qs->owner)
                    conn_unreachable(qs->owner, "send");
                else
                    sock_errqueue(qs);
                continue;
            } else {
                log_debug(LD_QUIC, "sendmmsg: %s", strerror(errno));
            }
            break;
        }
        off += n;
    }
    tx_reset(qt);
}

/* Queue one datagram of len bytes, written at qt->txbuf + qt->txoff, for
 * qs -> to: it joins the last message as one more GSO segment when it can. */
static void tx_queue(struct quic_transport *qt, struct quic_sock *qs, const ngtcp2_addr *to,
                     size_t len)
{
    int i = qt->ntx - 1;
    struct msghdr *m;

    if (i >= 0 && qt->txopen && qt->txsock == qs && !qt->no_gso && len <= qt->txseg[i] &&
        qt->txnseg[i] < GSO_MAX_SEGS &&
        (qs->owner || (to->addrlen == qt->txmsg[i].msg_hdr.msg_namelen &&
                       !memcmp(&qt->txaddr[i], to->addr, to->addrlen)))) {
        qt->txnseg[i]++;
        qt->txiov[i].iov_len += len;
        if (len < qt->txseg[i])
            qt->txopen = 0; /* a short segment ends a GSO train */
    } else {
        i = qt->ntx++;
        m = &qt->txmsg[i].msg_hdr;
        memset(m, 0, sizeof(*m));
        qt->txiov[i].iov_base = qt->txbuf + qt->txoff;
        m->msg_iov = &qt->txiov[i];
        qt->txiov[i].iov_len = len;
        m->msg_iovlen = 1;
        if (!qs->owner) { /* listener: unconnected */
            memcpy(&qt->txaddr[i], to->addr, to->addrlen);
            m->msg_name = &qt->txaddr[i];
            m->msg_namelen = to->addrlen;
        }
        qt->txseg[i] = len;
        qt->txnseg[i] = 1;
        qt->txopen = 1;
    }
    qt->txsock = qs;
    qt->txoff += len;
    if ((qt->ntx == TX_MSGS && !qt->txopen) || qt->txoff + TX_SLOT > TX_BUF ||
        (qt->ntx == TX_MSGS && qt->txnseg[i] == GSO_MAX_SEGS))
        tx_flush(qt);
}

/* One-off datagram from a listener (Retry, version negotiation, ...). */
static void send_raw(struct quic_sock *qs, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len)
{
    if (sendto(qs->fd, data, len, 0, to, tolen) < 0)
        log_debug(LD_QUIC, "sendto: %s", strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* Streams. */

static struct quic_stream *stream_new(struct quic_conn *c, int opener)
{
    struct quic_stream *s = calloc(1, sizeof(*s));

    if (!s)
        abort();
    vx_stream_base_init(&s->base, &quic_stream_ops, (struct vx_transport *)c->qt);
    s->c = c;
    s->sid = -1;
    s->opener = opener;
    s->fd = -1;
    s->rb = vx_buf_new((size_t)c->qt->conf.stream_window + OPEN_MAX_LEN);
    s->deadline = now_ns() + (uint64_t)c->qt->conf.handshake_timeout_ms * NGTCP2_MILLISECONDS;
    s->prev = c->streams_tail;
    if (c->streams_tail)
        c->streams_tail->next = s;
    else
        c->streams = s;
    c->streams_tail = s;
    c->qt->st.streams++;
    s->counted = 1;
    return s;
}

static void stream_stop_fd(struct quic_stream *s)
{
    struct ev_loop *loop = s->c->qt->base.loop;

    if (s->fd < 0)
        return;
    ev_io_stop(loop, &s->rio);
    ev_io_stop(loop, &s->wio);
    close(s->fd);
    s->fd = -1;
}

static void stream_free(struct quic_stream *s)
{
    struct quic_conn *c = s->c;

    stream_stop_fd(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        c->streams_tail = s->prev;
    if (c->conn && s->sid >= 0 && !s->quic_closed)
        ngtcp2_conn_set_stream_user_data(c->conn, s->sid, NULL);
    if (s->counted)
        c->qt->st.streams--;
    sq_clear(&s->sq);
    vx_buf_free(s->rb);
    free(s);
}

/* The user no longer holds s: no more callbacks.  The object lingers until
 * the QUIC stream is closed. */
static void stream_release(struct quic_stream *s)
{
    s->user_gone = 1;
    s->state = QS_DONE;
    stream_stop_fd(s);
    if (s->counted) {
        s->counted = 0;
        s->c->qt->st.streams--;
    }
    s->c->idle_since = now_ns();
    mark(s->c, 0, 1);
}

/* Reset the QUIC stream both ways with reason err. */
static void stream_reset_quic(struct quic_stream *s, int err)
{
    struct quic_conn *c = s->c;

    if (c->conn && s->sid >= 0 && !s->quic_closed)
        ngtcp2_conn_shutdown_stream(c->conn, s->sid, reason_from_err(err));
    if (s->sid < 0)
        s->quic_closed = 1;
    mark(c, 0, 1);
}

static void stream_finish(struct quic_stream *s, int err)
{
    if (s->user_gone)
        return;
    s->user_gone = 1; /* callbacks must not re-enter */
    if (s->cbs.on_close)
        s->cbs.on_close((struct vx_stream *)s, err, s->arg);
    stream_release(s);
}

static void stream_fail_open(struct quic_stream *s, int err)
{
    if (s->user_gone)
        return;
    s->user_gone = 1;
    s->cbs.on_open((struct vx_stream *)s, err, s->arg);
    stream_release(s);
}

static void stream_consumed(struct quic_stream *s, size_t n)
{
    struct quic_conn *c = s->c;

    if (!n || !c->conn || s->sid < 0 || s->quic_closed)
        return;
    ngtcp2_conn_extend_max_stream_offset(c->conn, s->sid, n);
    ngtcp2_conn_extend_max_offset(c->conn, n);
    mark(c, 0, 1);
}

static size_t stream_cap(const struct quic_stream *s)
{
    return s->c->qt->conf.stream_window;
}

static void stream_rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct quic_stream *s = w->data;
    size_t room, left, asked, want = stream_cap(s) - s->sq.len;
    struct sq_chunk *fresh[RD_CHUNKS];
    struct iovec iov[1 + RD_CHUNKS];
    int nfresh = 0, used = 0, err;
    ssize_t n;

    (void)loop;
    (void)revents;
    /* One readv per wakeup, into the free tail of the send queue and then
     * new chunks: as many as the last read filled, doubled when it filled
     * them all, so a busy socket is drained in large reads while a quiet
     * one costs one chunk at most.  Chunks the read left empty are freed. */
    iov[0].iov_base = sq_reserve(&s->sq, &room);
    iov[0].iov_len = want < room ? want : room;
    asked = iov[0].iov_len;
    left = want - asked;
    if (!s->rd_chunks)
        s->rd_chunks = 1;
    while (left && nfresh < s->rd_chunks) {
        fresh[nfresh] = sq_chunk_new();
        iov[1 + nfresh].iov_base = fresh[nfresh]->d;
        iov[1 + nfresh].iov_len = left < SQ_CHUNK ? left : SQ_CHUNK;
        asked += iov[1 + nfresh].iov_len;
        left -= iov[1 + nfresh].iov_len;
        nfresh++;
    }
    n = readv(s->fd, iov, 1 + nfresh);
    err = errno;
    if (n > 0) {
        size_t got = (size_t)n, k = got < iov[0].iov_len ? got : iov[0].iov_len;
        sq_commit(&s->sq, k);
        got -= k;
        for (; used < nfresh && got; used++) {
            k = got < iov[1 + used].iov_len ? got : iov[1 + used].iov_len;
            sq_push(&s->sq, fresh[used]);
            sq_commit(&s->sq, k);
            got -= k;
        }
        if ((size_t)n == asked)
            s->rd_chunks = nfresh * 2 < RD_CHUNKS ? nfresh * 2 : RD_CHUNKS;
        else
            s->rd_chunks = used;
    }
    for (int i = used; i < nfresh; i++)
        free(fresh[i]);
    if (n == 0) {
        s->rd_eof = 1;
        s->fin_queued = 1;
    } else if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        log_debug(LD_QUIC, "stream %" PRId64 ": read: %s", s->sid, strerror(err));
        stream_reset_quic(s, VX_ERR_CLOSED);
        stream_finish(s, VX_ERR_SYS);
        return;
    }
    stream_update_io(s);
    mark(s->c, 0, 1);
}

static void stream_flush_fd(struct quic_stream *s)
{
    while (vx_buf_len(s->rb)) {
        ssize_t n = vx_buf_write_fd(s->rb, s->fd);
        if (n == VX_ERR_AGAIN)
            break;
        if (n < 0) {
            log_debug(LD_QUIC, "stream %" PRId64 ": write: %s", s->sid, strerror(errno));
            stream_reset_quic(s, VX_ERR_CLOSED);
            stream_finish(s, VX_ERR_SYS);
            return;
        }
        s->c->bytes_in += (uint64_t)n;
        s->c->qt->st.bytes_in += (uint64_t)n;
        stream_consumed(s, (size_t)n);
    }
    if (!vx_buf_len(s->rb) && s->peer_fin && !s->wr_shut) {
        shutdown(s->fd, SHUT_WR);
        s->wr_shut = 1;
    }
}

static void stream_wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct quic_stream *s = w->data;

    (void)loop;
    (void)revents;
    stream_flush_fd(s);
    if (!s->user_gone)
        stream_update_io(s);
    mark(s->c, 1, 1);
}

static void stream_update_io(struct quic_stream *s)
{
    struct quic_conn *c = s->c;
    struct ev_loop *loop = c->qt->base.loop;
    int rd = 0;

    if (s->fd < 0)
        return;
    if (!s->rd_eof && !s->peer_reset && c->conn && s->sq.len < stream_cap(s)) {
        uint64_t left = ngtcp2_conn_get_max_stream_data_left(c->conn, s->sid);
        rd = s->sq.unsent < left;
    }
    if (rd && !ev_is_active(&s->rio))
        ev_io_start(loop, &s->rio);
    else if (!rd && ev_is_active(&s->rio))
        ev_io_stop(loop, &s->rio);
    if (vx_buf_len(s->rb) && !ev_is_active(&s->wio))
        ev_io_start(loop, &s->wio);
    else if (!vx_buf_len(s->rb) && ev_is_active(&s->wio))
        ev_io_stop(loop, &s->wio);
}

/* Bytes vx_stream_write() may queue now: bounded by the send queue (which
 * holds unacknowledged bytes too) and by the peer's stream and connection
 * credit, so a slow reader holds the writer back. */
static size_t stream_write_room(const struct quic_stream *s)
{
    struct quic_conn *c = s->c;
    uint64_t left, cleft;
    size_t room;

    if (!c->conn || s->sid < 0 || s->quic_closed || s->sq.len >= stream_cap(s))
        return 0;
    room = stream_cap(s) - s->sq.len;
    left = ngtcp2_conn_get_max_stream_data_left(c->conn, s->sid);
    cleft = ngtcp2_conn_get_max_data_left(c->conn);
    if (cleft < left)
        left = cleft;
    left = left > s->sq.unsent ? left - s->sq.unsent : 0;
    return left < room ? (size_t)left : room;
}

/* Deferred work of an attached stream: buffered data, FIN, completion and
 * writability, in that order.  Any callback may release the stream. */
static void stream_io_run(struct quic_stream *s)
{
    while (!s->paused && vx_buf_len(s->rb)) {
        const uint8_t *p;
        size_t n = vx_buf_peek(s->rb, &p), k;

        k = s->io.on_data((struct vx_stream *)s, p, n, s->io_arg);
        if (s->user_gone)
            return;
        if (k > n)
            k = n;
        vx_buf_drain(s->rb, k);
        s->c->bytes_in += k;
        s->c->qt->st.bytes_in += k;
        stream_consumed(s, k);
        if (k < n)
            s->paused = 1;
    }
    if (!s->paused && !vx_buf_len(s->rb) && s->peer_fin && !s->fin_delivered) {
        s->fin_delivered = 1;
        if (s->io.on_fin)
            s->io.on_fin((struct vx_stream *)s, s->io_arg);
        if (s->user_gone)
            return;
    }
    /* Like TCP: done once both FINs are through (ours handed to QUIC, which
     * retransmits it from the lingering stream until it is acknowledged). */
    if (s->fin_delivered && s->fin_sent) {
        stream_finish(s, 0);
        return;
    }
    if (s->want_writable && !s->fin_queued && stream_write_room(s) > 0) {
        s->want_writable = 0;
        if (s->io.on_writable)
            s->io.on_writable((struct vx_stream *)s, s->io_arg);
    }
}

/* Deferred work for one stream: parse the open exchange, deliver callbacks,
 * move bytes to the fd, notice completion, resets and deadlines. */
static void stream_process(struct quic_stream *s, uint64_t now)
{
    struct quic_conn *c = s->c;
    uint8_t hdr[OPEN_MAX_LEN];
    size_t n, used;
    int rv, status;

    if (s->user_gone)
        return;
    if (c->state == QC_DEAD) {
        s->quic_closed = 1;
        if (s->state == QS_WAIT_CONN || s->state == QS_WAIT_REPLY)
            stream_fail_open(s, c->err);
        else if (s->state == QS_WAIT_REQ)
            stream_release(s);
        else if (s->state == QS_OPEN)
            stream_finish(s, c->err);
        return; /* QS_ACCEPTING: the user still has to answer */
    }
    switch (s->state) {
    case QS_WAIT_CONN:
        if (c->state == QC_OPEN && ngtcp2_conn_get_streams_bidi_left(c->conn) > 0) {
            if (ngtcp2_conn_open_bidi_stream(c->conn, &s->sid, s) == 0) {
                size_t len = 0;
                if (open_req_encode(&s->tgt, s->sid, hdr, &len) < 0) {
                    stream_reset_quic(s, VX_ERR_INVAL);
                    stream_fail_open(s, VX_ERR_INVAL);
                    return;
                }
                sq_append(&s->sq, hdr, len);
                s->state = QS_WAIT_REPLY;
                s->deadline =
                        now + (uint64_t)c->qt->conf.handshake_timeout_ms * NGTCP2_MILLISECONDS;
                mark(c, 0, 1);
            }
        }
        break;
    case QS_WAIT_REQ:
        n = vx_buf_copyout(s->rb, hdr, sizeof(hdr));
        {
            struct vx_stream_target tgt;
            rv = open_req_decode(hdr, n, s->sid, &tgt, &used);
            if (rv == VX_ERR_TRUNC && !s->peer_fin && !s->peer_reset)
                break;
            if (rv < 0 || s->peer_reset) {
                log_debug(LD_QUIC, "stream %" PRId64 ": bad open request", s->sid);
                stream_reset_quic(s, VX_ERR_PROTO);
                stream_release(s);
                return;
            }
            vx_buf_drain(s->rb, used);
            stream_consumed(s, used);
            s->state = QS_ACCEPTING;
            s->deadline = now + (uint64_t)c->qt->conf.handshake_timeout_ms * NGTCP2_MILLISECONDS;
            c->qt->st.streams_total++;
            if (vx_transport_deliver_accept((struct vx_transport *)c->qt, (struct vx_stream *)s,
                                            &tgt) < 0)
                vx_stream_accept((struct vx_stream *)s, VX_ERR_REFUSED, NULL, NULL);
        }
        return; /* the accept callback may have changed everything */
    case QS_WAIT_REPLY:
        n = vx_buf_copyout(s->rb, hdr, sizeof(hdr));
        rv = open_reply_decode(hdr, n, s->sid, &status, &used);
        if (rv == VX_ERR_TRUNC && !s->peer_fin && !s->peer_reset)
            break;
        if (rv < 0) {
            status = s->peer_reset ? s->peer_reset : VX_ERR_PROTO;
        } else {
            vx_buf_drain(s->rb, used);
            stream_consumed(s, used);
        }
        if (status == 0) {
            s->state = QS_OPEN;
            c->qt->st.streams_total++;
            s->cbs.on_open((struct vx_stream *)s, 0, s->arg);
            if (s->user_gone)
                return;
            break;
        }
        stream_reset_quic(s, 0);
        stream_fail_open(s, status);
        return;
    default:
        break;
    }
    if (s->state == QS_OPEN) {
        if (s->peer_reset) {
            stream_reset_quic(s, s->peer_reset);
            stream_finish(s, s->peer_reset);
            return;
        }
        if (s->attached) {
            stream_io_run(s);
            return;
        }
        if (!s->spliced)
            return;
        stream_flush_fd(s);
        if (s->user_gone)
            return;
        if (s->quic_closed && s->wr_shut && s->fin_sent) {
            stream_finish(s, 0);
            return;
        }
        stream_update_io(s);
        return;
    }
    if (s->state == QS_ACCEPTING && s->peer_reset && !s->accept_late) {
        s->accept_late = 1; /* the answer, when it comes, finds a dead stream */
        return;
    }
    if (now >= s->deadline) {
        /* still waiting for stream credit on an open connection: the
         * peer's max_streams held it back */
        if (s->state == QS_WAIT_CONN && c->state == QC_OPEN)
            c->qt->st.limit_streams++;
        switch (s->state) {
        case QS_WAIT_CONN:
        case QS_WAIT_REPLY:
            stream_reset_quic(s, VX_ERR_TIMEOUT);
            stream_fail_open(s, VX_ERR_TIMEOUT);
            break;
        case QS_WAIT_REQ:
            stream_reset_quic(s, VX_ERR_TIMEOUT);
            stream_release(s);
            break;
        case QS_ACCEPTING:
            if (!s->accept_late) {
                uint8_t r[OPEN_MAX_LEN];
                sq_append(&s->sq, r, open_reply_encode(VX_ERR_TIMEOUT, s->sid, r));
                s->fin_queued = 1;
                s->accept_late = 1;
                mark(c, 0, 1);
            }
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Stream operations (transport_impl.h). */

static void qs_accept(struct vx_stream *vs, int status, const struct vx_stream_cbs *cbs, void *arg)
{
    struct quic_stream *s = (struct quic_stream *)vs;
    struct quic_conn *c = s->c;
    uint8_t r[OPEN_MAX_LEN];

    if (s->user_gone || s->state != QS_ACCEPTING)
        return;
    if (status == 0 && cbs) {
        s->cbs = *cbs;
        s->arg = arg;
    }
    if (c->state == QC_DEAD || s->accept_late || status < 0 || !cbs) {
        if (c->state != QC_DEAD && !s->accept_late) {
            sq_append(&s->sq, r,
                      open_reply_encode(status < 0 ? status : VX_ERR_INTERNAL, s->sid, r));
            s->fin_queued = 1;
            if (c->conn && !s->quic_closed)
                ngtcp2_conn_shutdown_stream_read(c->conn, s->sid, reason_from_err(status));
        }
        if (status == 0 && cbs) {
            /* Accepted too late: report the failure through on_close. */
            s->state = QS_OPEN;
            if (!s->peer_reset)
                s->peer_reset = c->state == QC_DEAD ? c->err : VX_ERR_TIMEOUT;
            mark(c, 1, 1);
            return;
        }
        stream_release(s);
        return;
    }
    sq_append(&s->sq, r, open_reply_encode(0, s->sid, r));
    s->state = QS_OPEN;
    mark(c, 1, 1);
}

static int qs_splice(struct vx_stream *vs, int fd, const uint8_t *data, size_t len)
{
    struct quic_stream *s = (struct quic_stream *)vs;
    int fl;

    if (s->user_gone || s->state != QS_OPEN || s->spliced || s->attached) {
        if (fd >= 0)
            close(fd);
        return VX_ERR_INVAL;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        stream_reset_quic(s, VX_ERR_INTERNAL);
        s->peer_reset = VX_ERR_SYS;
        mark(s->c, 1, 1);
        return VX_ERR_SYS;
    }
    /* Bytes the caller already read from fd go out first, in order. */
    if (len > 0)
        sq_append(&s->sq, data, len);
    s->fd = fd;
    s->spliced = 1;
    ev_io_init(&s->rio, stream_rio_cb, fd, EV_READ);
    ev_io_init(&s->wio, stream_wio_cb, fd, EV_WRITE);
    s->rio.data = s->wio.data = s;
    mark(s->c, 1, 1);
    return 0;
}

static int qs_attach(struct vx_stream *vs, const struct vx_stream_io *io, void *arg)
{
    struct quic_stream *s = (struct quic_stream *)vs;

    if (!s || !io || !io->on_data || s->user_gone || s->state != QS_OPEN || s->spliced ||
        s->attached)
        return VX_ERR_INVAL;
    s->io = *io;
    s->io_arg = arg;
    s->attached = 1;
    mark(s->c, 1, 0);
    return 0;
}

static ssize_t qs_write(struct vx_stream *vs, const uint8_t *data, size_t len)
{
    struct quic_stream *s = (struct quic_stream *)vs;
    size_t room;

    if (!s || s->user_gone || s->state != QS_OPEN || !s->attached)
        return VX_ERR_INVAL;
    if (s->fin_queued || s->peer_reset || s->c->state == QC_DEAD)
        return VX_ERR_CLOSED;
    room = stream_write_room(s);
    if (room > len)
        room = len;
    if (room < len)
        s->want_writable = 1;
    if (!room)
        return VX_ERR_AGAIN;
    sq_append(&s->sq, data, room);
    mark(s->c, 0, 1);
    return (ssize_t)room;
}

static int qs_shutdown(struct vx_stream *vs)
{
    struct quic_stream *s = (struct quic_stream *)vs;

    if (!s || s->user_gone || s->state != QS_OPEN || !s->attached)
        return VX_ERR_INVAL;
    if (s->fin_queued)
        return 0;
    s->fin_queued = 1;
    s->want_writable = 0;
    mark(s->c, 1, 1);
    return 0;
}

static void qs_read_resume(struct vx_stream *vs)
{
    struct quic_stream *s = (struct quic_stream *)vs;

    if (!s || s->user_gone || s->state != QS_OPEN || !s->attached)
        return;
    s->paused = 0;
    mark(s->c, 1, 0);
}

static void qs_close(struct vx_stream *vs, int err)
{
    struct quic_stream *s = (struct quic_stream *)vs;

    if (s->user_gone)
        return;
    stream_reset_quic(s, err < 0 ? err : VX_ERR_RESET);
    stream_release(s);
}

static const uint8_t *qs_peer_id(const struct vx_stream *vs)
{
    const struct quic_stream *s = (const struct quic_stream *)vs;
    return s->c->peer_id;
}

static const struct vx_stream_ops quic_stream_ops = {
        .accept = qs_accept,
        .splice = qs_splice,
        .close = qs_close,
        .peer_id = qs_peer_id,
        .attach = qs_attach,
        .write = qs_write,
        .shutdown = qs_shutdown,
        .read_resume = qs_read_resume,
};

/* ------------------------------------------------------------------------ */
/* ngtcp2 callbacks.  They only record; work happens in conn_process. */

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    randombytes_buf(dest, len);
}

static int cid_add(struct quic_conn *c, const ngtcp2_cid *cid)
{
    if (c->ncids == MAX_CIDS)
        return -1;
    c->cids[c->ncids++] = *cid;
    return 0;
}

static int get_new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                          void *user_data)
{
    struct quic_conn *c = user_data;

    (void)conn;
    randombytes_buf(cid->data, cidlen);
    cid->datalen = cidlen;
    if (ngtcp2_crypto_generate_stateless_reset_token(token, c->qt->reset_secret,
                                                     sizeof(c->qt->reset_secret), cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (cid_add(c, cid) < 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int remove_cid_cb(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
    struct quic_conn *c = user_data;

    (void)conn;
    for (size_t i = 0; i < c->ncids; i++)
        if (ngtcp2_cid_eq(&c->cids[i], cid)) {
            c->cids[i] = c->cids[--c->ncids];
            break;
        }
    return 0;
}

static int stream_open_cb(ngtcp2_conn *conn, int64_t sid, void *user_data)
{
    struct quic_conn *c = user_data;
    struct quic_stream *s;

    if (!ngtcp2_is_bidi_stream(sid))
        return 0;
    s = stream_new(c, 0);
    s->sid = sid;
    s->state = QS_WAIT_REQ;
    ngtcp2_conn_set_stream_user_data(conn, sid, s);
    mark(c, 1, 0);
    return 0;
}

static int recv_stream_data_cb(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
                               const uint8_t *data, size_t len, void *user_data, void *sud)
{
    struct quic_conn *c = user_data;
    struct quic_stream *s = sud;

    (void)offset;
    if (!s || s->user_gone) {
        ngtcp2_conn_extend_max_offset(conn, len);
        if (s)
            ngtcp2_conn_extend_max_stream_offset(conn, sid, len);
        return 0;
    }
    if (len && vx_buf_add(s->rb, data, len) < 0) {
        /* Over the window we advertised: the peer broke flow control. */
        ngtcp2_conn_extend_max_offset(conn, len);
        s->peer_reset = VX_ERR_PROTO;
    }
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
        s->peer_fin = 1;
    mark(c, 1, 0);
    return 0;
}

static int acked_cb(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t len, void *user_data,
                    void *sud)
{
    struct quic_stream *s = sud;

    (void)conn;
    (void)sid;
    (void)offset;
    if (s) {
        sq_ack(&s->sq, (size_t)len);
        mark(user_data, 1, 0);
    }
    return 0;
}

static int stream_close_cb(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t code,
                           void *user_data, void *sud)
{
    struct quic_conn *c = user_data;
    struct quic_stream *s = sud;

    if (!ngtcp2_conn_is_local_stream(conn, sid) && ngtcp2_is_bidi_stream(sid))
        ngtcp2_conn_extend_max_streams_bidi(conn, 1);
    if (s) {
        s->quic_closed = 1;
        if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) && code && !s->peer_reset &&
            !(s->fin_sent && s->peer_fin))
            s->peer_reset = reason_to_err(code);
        mark(c, 1, 0);
    }
    return 0;
}

static int stream_reset_cb(ngtcp2_conn *conn, int64_t sid, uint64_t final_size, uint64_t code,
                           void *user_data, void *sud)
{
    struct quic_stream *s = sud;

    (void)conn;
    (void)sid;
    (void)final_size;
    if (s && !s->peer_reset) {
        s->peer_reset = reason_to_err(code);
        if (!s->peer_reset)
            s->peer_reset = VX_ERR_RESET;
        mark(user_data, 1, 1);
    }
    return 0;
}

static int stop_sending_cb(ngtcp2_conn *conn, int64_t sid, uint64_t code, void *user_data,
                           void *sud)
{
    struct quic_stream *s = sud;

    (void)conn;
    (void)sid;
    /* A refused open is FAIL + FIN + STOP_SENDING: let the reply win. */
    if (s && !s->peer_reset && s->state != QS_WAIT_REPLY) {
        s->peer_reset = reason_to_err(code);
        if (!s->peer_reset)
            s->peer_reset = VX_ERR_RESET;
        mark(user_data, 1, 1);
    }
    return 0;
}

static int extend_stream_data_cb(ngtcp2_conn *conn, int64_t sid, uint64_t max_data, void *user_data,
                                 void *sud)
{
    (void)conn;
    (void)sid;
    (void)max_data;
    if (sud)
        mark(user_data, 1, 1);
    return 0;
}

static int extend_streams_cb(ngtcp2_conn *conn, uint64_t max_streams, void *user_data)
{
    (void)conn;
    (void)max_streams;
    mark(user_data, 1, 1);
    return 0;
}

static int path_validation_cb(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *user_data)
{
    struct quic_conn *c = user_data;
    char a[80];

    (void)conn;
    (void)flags;
    log_info(LD_QUIC, "QUIC path to %s %s", addr_str(path->remote.addr, a, sizeof(a)),
             res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS ? "validated" : "failed validation");
    c->pv_done = 1; /* conn_process drops the socket that is no longer used */
    mark(c, 1, 1);
    return 0;
}

static int recv_new_token_cb(ngtcp2_conn *conn, const ngtcp2_vec *token, void *user_data)
{
    struct quic_conn *c = user_data;
    struct quic_transport *qt = c->qt;
    struct token_entry *e = &qt->tokens[0];

    (void)conn;
    if (token->len > sizeof(e->token))
        return 0;
    for (int i = 0; i < TOKEN_CACHE; i++) {
        struct token_entry *x = &qt->tokens[i];
        if (x->len && x->addrlen == c->diallen &&
            sockaddr_eq((struct sockaddr *)&x->addr, (struct sockaddr *)&c->dial)) {
            e = x;
            break;
        }
        if (x->used < e->used)
            e = x;
    }
    memcpy(&e->addr, &c->dial, c->diallen);
    e->addrlen = c->diallen;
    memcpy(e->token, token->base, token->len);
    e->len = token->len;
    e->used = now_ns();
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Connections. */

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void fill_params(struct quic_transport *qt, ngtcp2_transport_params *p)
{
    ngtcp2_transport_params_default(p);
    p->initial_max_stream_data_bidi_local = qt->conf.stream_window;
    p->initial_max_stream_data_bidi_remote = qt->conf.stream_window;
    p->initial_max_data = qt->conf.session_window;
    p->initial_max_streams_bidi = qt->conf.max_streams;
    p->initial_max_streams_uni = 0;
    p->max_idle_timeout = (uint64_t)qt->conf.dead_peer_ms * NGTCP2_MILLISECONDS;
    p->active_connection_id_limit = 4;
}

static void fill_settings(struct quic_transport *qt, ngtcp2_settings *st)
{
    ngtcp2_settings_default(st);
    st->initial_ts = now_ns();
    st->handshake_timeout = (uint64_t)qt->conf.handshake_timeout_ms * NGTCP2_MILLISECONDS;
    st->max_tx_udp_payload_size = TX_SLOT;
    /* RFC 9002's 333 ms paces the first flights very slowly on the short
     * paths an overlay mostly uses; 100 ms is still conservative. */
    st->initial_rtt = 100 * NGTCP2_MILLISECONDS;
    st->max_window = (uint64_t)qt->conf.session_window * 2;
    st->max_stream_window = (uint64_t)qt->conf.stream_window;
    /* Not CUBIC (nor Reno): in ngtcp2 0.12 they stop growing the window at
     * 2.89 x (best delivery rate x minimum RTT).  On a short path whose RTT
     * under load is several times its idle minimum (two busy processes on
     * shared cores: 40 us idle, 200-400 us loaded), that freezes the window
     * near 100-200 KB and bulk at a fraction of the path; BBRv2's window
     * adds three send quanta on top of its BDP estimate and keeps up. */
    st->cc_algo = NGTCP2_CC_ALGO_BBR2;
    if (vx_log_enabled(LD_QUIC, VX_LOG_DEBUG))
        st->log_printf = ngtcp2_log_cb;
}

static void fill_callbacks(ngtcp2_callbacks *cb, int client)
{
    memset(cb, 0, sizeof(*cb));
    if (client) {
        cb->client_initial = ngtcp2_crypto_client_initial_cb;
        cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
        cb->recv_new_token = recv_new_token_cb;
    } else {
        cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    }
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb->rand = rand_cb;
    cb->get_new_connection_id = get_new_cid_cb;
    cb->remove_connection_id = remove_cid_cb;
    cb->stream_open = stream_open_cb;
    cb->recv_stream_data = recv_stream_data_cb;
    cb->acked_stream_data_offset = acked_cb;
    cb->stream_close = stream_close_cb;
    cb->stream_reset = stream_reset_cb;
    cb->stream_stop_sending = stop_sending_cb;
    cb->extend_max_stream_data = extend_stream_data_cb;
    cb->extend_max_local_streams_bidi = extend_streams_cb;
    cb->path_validation = path_validation_cb;
}

static struct quic_conn *conn_alloc(struct quic_transport *qt, int client)
{
    struct quic_conn *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->qt = qt;
    c->client = client;
    c->state = QC_HANDSHAKE;
    c->rr_sid = -1;
    ev_init(&c->timer, timer_cb);
    c->timer.data = c;
    c->next = qt->conns;
    if (qt->conns)
        qt->conns->prev = c;
    qt->conns = c;
    qt->nconns++;
    return c;
}

static void conn_free(struct quic_conn *c)
{
    struct quic_transport *qt = c->qt;

    while (c->streams)
        stream_free(c->streams);
    ev_timer_stop(qt->base.loop, &c->timer);
    if (c->conn)
        ngtcp2_conn_del(c->conn);
    if (c->tls)
        gnutls_deinit(c->tls);
    sock_free(c->sock[0]);
    sock_free(c->sock[1]);
    if (c->prev)
        c->prev->next = c->next;
    else
        qt->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    qt->nconns--;
    free(c);
}

static struct quic_conn *conn_client_new(struct quic_transport *qt, const uint8_t *peer_id,
                                         const struct sockaddr *addr, socklen_t addrlen, int *err)
{
    struct quic_conn *c;
    struct quic_sock *qs;
    ngtcp2_cid dcid, scid;
    ngtcp2_path path;
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params params;
    char a[80];

    if (addrlen > sizeof(struct sockaddr_storage) ||
        (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
        *err = VX_ERR_BADADDR;
        return NULL;
    }
    qs = sock_new(qt, NULL, 0, addr, addrlen, err);
    if (!qs) {
        *err = errno == ENETUNREACH || errno == EHOSTUNREACH ? VX_ERR_UNREACH : VX_ERR_SYS;
        return NULL;
    }
    c = conn_alloc(qt, 1);
    qs->owner = c;
    c->sock[0] = qs;
    memcpy(&c->dial, addr, addrlen);
    c->diallen = addrlen;
    if (peer_id) {
        memcpy(c->peer_id, peer_id, VX_NODE_ID_LEN);
        c->expect_id = 1;
    }
    dcid.datalen = SCID_LEN;
    randombytes_buf(dcid.data, dcid.datalen);
    scid.datalen = SCID_LEN;
    randombytes_buf(scid.data, scid.datalen);
    path.local.addr = (ngtcp2_sockaddr *)&qs->local;
    path.local.addrlen = qs->locallen;
    path.remote.addr = (ngtcp2_sockaddr *)&c->dial;
    path.remote.addrlen = c->diallen;
    path.user_data = NULL;
    fill_callbacks(&cb, 1);
    fill_settings(qt, &st);
    for (int i = 0; i < TOKEN_CACHE; i++) {
        struct token_entry *e = &qt->tokens[i];
        if (e->len && e->addrlen == addrlen && sockaddr_eq((struct sockaddr *)&e->addr, addr)) {
            st.token.base = e->token;
            st.token.len = e->len;
            e->used = now_ns();
        }
    }
    fill_params(qt, &params);
    if (ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &st,
                               &params, NULL, c) != 0 ||
        tls_session_new(c) < 0) {
        *err = VX_ERR_CRYPTO;
        conn_free(c);
        return NULL;
    }
    ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
    if (qt->conf.keepalive_ms)
        ngtcp2_conn_set_keep_alive_timeout(c->conn,
                                           (uint64_t)qt->conf.keepalive_ms * NGTCP2_MILLISECONDS);
    log_debug(LD_QUIC, "QUIC dialling %s", addr_str(addr, a, sizeof(a)));
    mark(c, 0, 1);
    return c;
}

static void conn_established(struct quic_conn *c)
{
    struct quic_transport *qt = c->qt;
    gnutls_datum_t alpn;
    char idstr[VX_NODE_ID_STRLEN + 1], a[80];

    if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) < 0 ||
        alpn.size != sizeof(VX_QUIC_ALPN) - 1 || memcmp(alpn.data, VX_QUIC_ALPN, alpn.size)) {
        conn_die(c, VX_ERR_PROTO);
        return;
    }
    if (!c->have_peer_id) {
        conn_die(c, VX_ERR_PEER_ID);
        return;
    }
    c->state = QC_OPEN;
    c->established_ms = vx_time_mono_ms();
    c->idle_since = c->key_ts = now_ns();
    qt->st.sessions++;
    qt->st.sessions_total++;
    if (!c->client) {
        uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
        const ngtcp2_path *p = ngtcp2_conn_get_path(c->conn);
        ngtcp2_ssize n = ngtcp2_crypto_generate_regular_token(
                token, qt->token_secret[0], sizeof(qt->token_secret[0]), p->remote.addr,
                p->remote.addrlen, now_ns());
        if (n > 0)
            ngtcp2_conn_submit_new_token(c->conn, token, (size_t)n);
        if (qt->conf.keepalive_ms)
            ngtcp2_conn_set_keep_alive_timeout(c->conn, (uint64_t)qt->conf.keepalive_ms *
                                                                NGTCP2_MILLISECONDS);
    }
    vx_node_id_to_str(c->peer_id, idstr, sizeof(idstr));
    log_info(LD_QUIC, "QUIC session with %s (%s) up, %s", idstr,
             addr_str(ngtcp2_conn_get_path(c->conn)->remote.addr, a, sizeof(a)),
             c->client ? "outgoing" : "incoming");
}

/* Send CONNECTION_CLOSE (best effort) for ccerr. */
static void conn_send_close(struct quic_conn *c, const ngtcp2_connection_close_error *ccerr)
{
    struct quic_transport *qt = c->qt;
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    struct quic_sock *qs;
    ngtcp2_ssize n;

    if (!c->conn || ngtcp2_conn_is_in_closing_period(c->conn) ||
        ngtcp2_conn_is_in_draining_period(c->conn))
        return;
    if (qt->ntx)
        tx_flush(qt);
    ngtcp2_path_storage_zero(&ps);
    n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, qt->txbuf, TX_SLOT, ccerr,
                                           now_ns());
    if (n <= 0)
        return;
    qs = c->client ? c->sock[0] : c->lsock;
    if (c->client && c->sock[1] &&
        sockaddr_eq((struct sockaddr *)&c->sock[1]->local, ps.path.local.addr))
        qs = c->sock[1];
    if (!qs)
        return;
    tx_queue(qt, qs, &ps.path.remote, (size_t)n);
    tx_flush(qt);
}

/* The connection is over: no more packets; streams learn it in
 * conn_process, and the conn is freed once they are all released. */
static void conn_die(struct quic_conn *c, int err)
{
    struct quic_transport *qt = c->qt;
    char idstr[VX_NODE_ID_STRLEN + 1] = "unknown node";

    if (c->state == QC_DEAD)
        return;
    if (c->peer_id_err)
        err = VX_ERR_PEER_ID;
    if (c->have_peer_id || c->expect_id)
        vx_node_id_to_str(c->peer_id, idstr, sizeof(idstr));
    if (c->state == QC_HANDSHAKE) {
        qt->st.handshakes_failed++;
        log_info(LD_QUIC, "QUIC handshake with %s failed: %s", idstr, vx_strerror(err));
    } else {
        qt->st.sessions--;
        log_info(LD_QUIC, "QUIC session with %s closed: %s", idstr, vx_strerror(err));
    }
    c->state = QC_DEAD;
    c->err = err;
    ev_timer_stop(qt->base.loop, &c->timer);
    for (struct quic_stream *s = c->streams; s; s = s->next) {
        s->quic_closed = 1;
        if (s->fd >= 0) {
            ev_io_stop(qt->base.loop, &s->rio);
            ev_io_stop(qt->base.loop, &s->wio);
        }
    }
    if (c->conn) {
        ngtcp2_conn_del(c->conn);
        c->conn = NULL;
    }
    for (int i = 0; i < 2; i++) {
        sock_free(c->sock[i]);
        c->sock[i] = NULL;
    }
    mark(c, 1, 0);
}

/* A local fatal error: tell the peer, then die. */
static void conn_fail(struct quic_conn *c, int liberr)
{
    ngtcp2_connection_close_error ccerr;
    int err = liberr_to_vx(liberr);

    if (liberr == NGTCP2_ERR_CRYPTO) {
        uint8_t alert = ngtcp2_conn_get_tls_alert(c->conn);
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&ccerr, alert, NULL, 0);
    } else {
        ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, liberr, NULL, 0);
    }
    if (liberr != NGTCP2_ERR_DRAINING && liberr != NGTCP2_ERR_DROP_CONN &&
        liberr != NGTCP2_ERR_IDLE_CLOSE && liberr != NGTCP2_ERR_HANDSHAKE_TIMEOUT)
        conn_send_close(c, &ccerr);
    if (liberr == NGTCP2_ERR_DRAINING) {
        ngtcp2_connection_close_error rcv;
        ngtcp2_conn_get_connection_close_error(c->conn, &rcv);
        if (rcv.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
            (rcv.error_code & 0xff00) == NGTCP2_CRYPTO_ERROR)
            err = c->state == QC_HANDSHAKE ? VX_ERR_AUTH : VX_ERR_CRYPTO;
    }
    conn_die(c, err);
}

static void conn_read(struct quic_conn *c, struct quic_sock *qs, const struct sockaddr *from,
                      socklen_t fromlen, const uint8_t *data, size_t len)
{
    ngtcp2_path path;
    ngtcp2_pkt_info pi = {0};
    int rv;

    if (c->state == QC_DEAD || !c->conn)
        return;
    path.local.addr = (ngtcp2_sockaddr *)&qs->local;
    path.local.addrlen = qs->locallen;
    path.remote.addr = (ngtcp2_sockaddr *)from;
    path.remote.addrlen = fromlen;
    path.user_data = NULL;
    rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, data, len, now_ns());
    if (rv != 0) {
        log_debug(LD_QUIC, "ngtcp2_conn_read_pkt: %s", ngtcp2_strerror(rv));
        conn_fail(c, rv);
        return;
    }
    if (c->probe_until)
        conn_probe_answered(c);
    if (c->state == QC_HANDSHAKE && ngtcp2_conn_get_handshake_completed(c->conn))
        conn_established(c);
    mark(c, 1, 1);
}

static struct quic_sock *conn_sock_for(struct quic_conn *c, const ngtcp2_addr *local)
{
    if (!c->client)
        return c->lsock;
    for (int i = 0; i < 2; i++)
        if (c->sock[i] && sockaddr_eq((struct sockaddr *)&c->sock[i]->local, local->addr))
            return c->sock[i];
    return c->sock[0];
}

static int sendable(const struct quic_conn *c, const struct quic_stream *s)
{
    return s->sid >= 0 && !s->quic_closed && s->blk_gen != c->wgen &&
           (s->sq.unsent || (s->fin_queued && !s->fin_sent));
}

/* Round robin: the first sendable stream after the one served last. */
static struct quic_stream *next_sendable(struct quic_conn *c)
{
    struct quic_stream *start = NULL, *s;

    if (c->rr_sid >= 0)
        for (s = c->streams; s; s = s->next)
            if (s->sid == c->rr_sid) {
                start = s->next;
                break;
            }
    for (s = start; s; s = s->next)
        if (sendable(c, s))
            return s;
    for (s = c->streams; s && s != start; s = s->next)
        if (sendable(c, s))
            return s;
    return NULL;
}

static void conn_write(struct quic_conn *c)
{
    struct quic_transport *qt = c->qt;
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    uint64_t ts = now_ns(), vts = ts;
    size_t quantum, inq = 0, npkts = 0;

    c->want_write = 0;
    if (c->state == QC_DEAD || !c->conn || c->send_blocked)
        return;
    ngtcp2_path_storage_zero(&ps);
    quantum = ngtcp2_conn_get_send_quantum(c->conn) / TX_SLOT;
    if (quantum < 2)
        quantum = 2;
    if (quantum > MAX_BURST)
        quantum = MAX_BURST;
    if (++c->wgen == 0)
        c->wgen = 1;
    for (;;) {
        struct quic_stream *s = next_sendable(c);
        ngtcp2_vec vec[8];
        size_t nvec = 0, total = 0;
        ngtcp2_ssize ndatalen = -1, n;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        struct quic_sock *qs;

        if (qt->ntx && qt->txsock && c->client && qt->txsock->owner != c)
            tx_flush(qt);
        if (s) {
            nvec = sq_vec(&s->sq, vec, 8, &total);
            if (s->fin_queued && total == s->sq.unsent)
                flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        }
        n = ngtcp2_conn_writev_stream(c->conn, &ps.path, &pi, qt->txbuf + qt->txoff, TX_SLOT,
                                      &ndatalen, flags, s ? s->sid : -1, vec, nvec, ts);
        if (n < 0) {
            switch (n) {
            case NGTCP2_ERR_WRITE_MORE:
                if (s && ndatalen >= 0) {
                    sq_consume(&s->sq, (size_t)ndatalen);
                    if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && !s->sq.unsent) {
                        s->fin_sent = 1;
                        if (s->attached)
                            mark(c, 1, 0);
                    }
                    c->bytes_out += (uint64_t)ndatalen;
                    qt->st.bytes_out += (uint64_t)ndatalen;
                    c->key_bytes += (uint64_t)ndatalen;
                    c->rr_sid = s->sid;
                    s->blk_gen = c->wgen; /* one frame per stream per packet */
                }
                continue;
            case NGTCP2_ERR_STREAM_DATA_BLOCKED:
            case NGTCP2_ERR_STREAM_SHUT_WR:
            case NGTCP2_ERR_STREAM_NOT_FOUND:
                if (s)
                    s->blk_gen = c->wgen;
                continue;
            default:
                log_debug(LD_QUIC, "ngtcp2_conn_writev_stream: %s", ngtcp2_strerror((int)n));
                conn_fail(c, (int)n);
                return;
            }
        }
        if (s && ndatalen >= 0) {
            sq_consume(&s->sq, (size_t)ndatalen);
            if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && !s->sq.unsent) {
                s->fin_sent = 1;
                if (s->attached)
                    mark(c, 1, 0);
            }
            c->bytes_out += (uint64_t)ndatalen;
            qt->st.bytes_out += (uint64_t)ndatalen;
            c->key_bytes += (uint64_t)ndatalen;
            c->rr_sid = s->sid;
        }
        if (n == 0)
            break;
        /* A new packet: streams may contribute again. */
        if (++c->wgen == 0)
            c->wgen = 1;
        qs = conn_sock_for(c, &ps.path.local);
        if (!qs)
            break;
        if (qt->ntx && qt->txsock != qs) {
            /* Different socket: move this datagram to the front after a flush. */
            uint8_t tmp[TX_SLOT];
            memcpy(tmp, qt->txbuf + qt->txoff, (size_t)n);
            tx_flush(qt);
            memcpy(qt->txbuf, tmp, (size_t)n);
        }
        tx_queue(qt, qs, &ps.path.remote, (size_t)n);
        if (c->send_blocked || ++npkts >= MAX_BURST)
            break;
        if (++inq == quantum) {
            /* A send quantum is out: charge it to the pacer at the pacing
             * clock vts, which runs ahead of ts by the quanta sent so far.
             * ngtcp2 sends early by up to PACING_SLACK, and the event loop
             * cannot sleep for less (libev rounds up to 1 ms): on a fast
             * path, waiting for the timer between quanta would send one
             * quantum per millisecond whatever the pacing rate. */
            uint64_t next;
            ngtcp2_conn_update_pkt_tx_time(c->conn, vts);
            inq = 0;
            next = ngtcp2_conn_get_expiry(c->conn);
            if (next > vts)
                vts = next;
            if (vts > ts + PACING_SLACK)
                break;
        }
    }
    if (qt->ntx)
        tx_flush(qt);
    ngtcp2_conn_update_pkt_tx_time(c->conn, vts);
    conn_arm_timer(c);
}

static uint64_t conn_deadline(struct quic_conn *c)
{
    uint64_t dl = ngtcp2_conn_get_expiry(c->conn);
    const struct vx_transport_conf *cf = &c->qt->conf;
    int streams = 0;

    for (struct quic_stream *s = c->streams; s; s = s->next) {
        if (s->user_gone)
            continue;
        streams++;
        if ((s->state == QS_WAIT_CONN || s->state == QS_WAIT_REPLY || s->state == QS_WAIT_REQ ||
             (s->state == QS_ACCEPTING && !s->accept_late)) &&
            s->deadline < dl)
            dl = s->deadline;
    }
    if (c->state == QC_OPEN && !streams && cf->idle_session_ms) {
        uint64_t idle = c->idle_since + (uint64_t)cf->idle_session_ms * NGTCP2_MILLISECONDS;
        if (idle < dl)
            dl = idle;
    }
    if (c->state == QC_OPEN && cf->rekey_seconds) {
        uint64_t rk = c->key_ts + (uint64_t)cf->rekey_seconds * NGTCP2_SECONDS;
        if (rk < dl)
            dl = rk;
    }
    if (c->probe_until && c->probe_until < dl)
        dl = c->probe_until;
    return dl;
}

static void conn_arm_timer(struct quic_conn *c)
{
    struct ev_loop *loop = c->qt->base.loop;
    uint64_t dl, now;
    double delay;

    ev_timer_stop(loop, &c->timer);
    if (c->state == QC_DEAD || !c->conn)
        return;
    dl = conn_deadline(c);
    if (dl == UINT64_MAX)
        return;
    now = now_ns();
    delay = dl > now ? (double)(dl - now) / 1e9 : 0.;
    ev_timer_set(&c->timer, delay, 0.);
    ev_timer_start(loop, &c->timer);
}

static int conn_user_streams(const struct quic_conn *c)
{
    int n = 0;
    for (const struct quic_stream *s = c->streams; s; s = s->next)
        n += !s->user_gone;
    return n;
}

static void conn_close_graceful(struct quic_conn *c, int err)
{
    ngtcp2_connection_close_error ccerr;

    ngtcp2_connection_close_error_set_application_error(&ccerr, reason_from_err(err), NULL, 0);
    conn_send_close(c, &ccerr);
    conn_die(c, err);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct quic_conn *c = w->data;
    const struct vx_transport_conf *cf = &c->qt->conf;
    uint64_t now = now_ns();
    int rv;

    (void)loop;
    (void)revents;
    if (c->state == QC_DEAD || conn_probe_expired(c, now))
        return;
    if (ngtcp2_conn_get_expiry(c->conn) <= now) {
        rv = ngtcp2_conn_handle_expiry(c->conn, now);
        if (rv != 0) {
            conn_fail(c, rv);
            return;
        }
    }
    if (c->state == QC_OPEN) {
        if (cf->idle_session_ms && !conn_user_streams(c) &&
            now >= c->idle_since + (uint64_t)cf->idle_session_ms * NGTCP2_MILLISECONDS) {
            conn_close_graceful(c, VX_ERR_CLOSED);
            return;
        }
        if ((cf->rekey_seconds &&
             now >= c->key_ts + (uint64_t)cf->rekey_seconds * NGTCP2_SECONDS) ||
            (cf->rekey_bytes && c->key_bytes >= cf->rekey_bytes)) {
            if (ngtcp2_conn_initiate_key_update(c->conn, now) == 0)
                log_debug(LD_QUIC, "QUIC key update");
            c->key_ts = now;
            c->key_bytes = 0;
        }
    }
    mark(c, 1, 1);
}

/* After a path validation: keep only the socket of the current path (the
 * new one, or the old one if the validation failed and ngtcp2 fell back). */
static void conn_migration_settle(struct quic_conn *c)
{
    const ngtcp2_path *p;

    c->pv_done = 0;
    if (!c->client || !c->sock[1] || !c->conn)
        return;
    p = ngtcp2_conn_get_path(c->conn);
    if (sockaddr_eq((struct sockaddr *)&c->sock[0]->local, p->local.addr)) {
        sock_free(c->sock[1]);
        c->sock[1] = NULL;
    } else if (sockaddr_eq((struct sockaddr *)&c->sock[1]->local, p->local.addr)) {
        sock_free(c->sock[0]);
        c->sock[0] = c->sock[1];
        c->sock[1] = NULL;
    }
}

static void conn_process(struct quic_conn *c)
{
    uint64_t now = now_ns();
    struct quic_stream *s, *next;

    c->want_process = 0;
    if (c->pv_done && c->state != QC_DEAD)
        conn_migration_settle(c);
    for (s = c->streams; s; s = next) {
        next = s->next;
        stream_process(s, now);
    }
    if (c->state != QC_DEAD)
        mark(c, 0, 1);
}

/* ------------------------------------------------------------------------ */
/* Server side: demultiplexing, Retry, version negotiation. */

static struct quic_conn *find_by_dcid(struct quic_transport *qt, const uint8_t *dcid, size_t len)
{
    for (struct quic_conn *c = qt->conns; c; c = c->next) {
        if (c->client || c->state == QC_DEAD)
            continue;
        for (size_t i = 0; i < c->ncids; i++)
            if (c->cids[i].datalen == len && !memcmp(c->cids[i].data, dcid, len))
                return c;
    }
    return NULL;
}

static void rotate_token_secret(struct quic_transport *qt)
{
    uint64_t now = now_ns();
    if (qt->token_rotated && now - qt->token_rotated < TOKEN_ROTATE_NS)
        return;
    memcpy(qt->token_secret[1], qt->token_secret[0], sizeof(qt->token_secret[0]));
    randombytes_buf(qt->token_secret[0], sizeof(qt->token_secret[0]));
    if (!qt->token_rotated)
        memcpy(qt->token_secret[1], qt->token_secret[0], sizeof(qt->token_secret[0]));
    qt->token_rotated = now;
}

static void send_retry(struct quic_transport *qt, struct quic_sock *qs, const ngtcp2_pkt_hd *hd,
                       const struct sockaddr *from, socklen_t fromlen)
{
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN], buf[TX_SLOT];
    ngtcp2_cid scid;
    ngtcp2_ssize tlen, n;

    scid.datalen = SCID_LEN;
    randombytes_buf(scid.data, scid.datalen);
    tlen = ngtcp2_crypto_generate_retry_token(token, qt->token_secret[0],
                                              sizeof(qt->token_secret[0]), hd->version, from,
                                              fromlen, &scid, &hd->dcid, now_ns());
    if (tlen < 0)
        return;
    n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid, &scid, &hd->dcid, token,
                                  (size_t)tlen);
    if (n > 0)
        send_raw(qs, from, fromlen, buf, (size_t)n);
}

static void send_refuse(struct quic_sock *qs, const ngtcp2_pkt_hd *hd, const struct sockaddr *from,
                        socklen_t fromlen, uint64_t code)
{
    uint8_t buf[TX_SLOT];
    ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(buf, sizeof(buf), hd->version, &hd->scid,
                                                          &hd->dcid, code, NULL, 0);
    if (n > 0)
        send_raw(qs, from, fromlen, buf, (size_t)n);
}

static void server_accept(struct quic_transport *qt, struct quic_sock *qs,
                          const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                          size_t len)
{
    ngtcp2_pkt_hd hd;
    ngtcp2_cid scid, odcid;
    const ngtcp2_cid *retry_scid = NULL;
    ngtcp2_path path;
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params params;
    struct quic_conn *c;
    uint64_t now = now_ns();
    int rv;

    rv = ngtcp2_accept(&hd, data, len);
    if (rv < 0)
        return;
    if (hd.type != NGTCP2_PKT_INITIAL)
        return;
    if (qt->nconns >= qt->conf.max_sessions) {
        qt->st.limit_sessions++;
        send_refuse(qs, &hd, from, fromlen, NGTCP2_CONNECTION_REFUSED);
        return;
    }
    rotate_token_secret(qt);
    odcid = hd.dcid;
    if (hd.token.len == 0) {
        send_retry(qt, qs, &hd, from, fromlen);
        return;
    }
    if (hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
        int ok = 0;
        for (int i = 0; i < 2 && !ok; i++)
            ok = ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len,
                                                  qt->token_secret[i], sizeof(qt->token_secret[i]),
                                                  hd.version, from, fromlen, &hd.dcid,
                                                  RETRY_TOKEN_TTL, now) == 0;
        if (!ok) {
            log_debug(LD_QUIC, "invalid Retry token");
            send_refuse(qs, &hd, from, fromlen, NGTCP2_INVALID_TOKEN);
            return;
        }
        retry_scid = &hd.dcid;
    } else {
        int ok = 0;
        for (int i = 0; i < 2 && !ok; i++)
            ok = hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR &&
                 ngtcp2_crypto_verify_regular_token(
                         hd.token.base, hd.token.len, qt->token_secret[i],
                         sizeof(qt->token_secret[i]), from, fromlen, 2 * TOKEN_ROTATE_NS, now) == 0;
        if (!ok) {
            send_retry(qt, qs, &hd, from, fromlen);
            return;
        }
    }
    c = conn_alloc(qt, 0);
    c->lsock = qs;
    scid.datalen = SCID_LEN;
    randombytes_buf(scid.data, scid.datalen);
    cid_add(c, &scid);
    cid_add(c, &hd.dcid);
    path.local.addr = (ngtcp2_sockaddr *)&qs->local;
    path.local.addrlen = qs->locallen;
    path.remote.addr = (ngtcp2_sockaddr *)from;
    path.remote.addrlen = fromlen;
    path.user_data = NULL;
    fill_callbacks(&cb, 0);
    fill_settings(qt, &st);
    st.token = hd.token;
    fill_params(qt, &params);
    params.original_dcid = odcid;
    if (retry_scid) {
        params.retry_scid = *retry_scid;
        params.retry_scid_present = 1;
    }
    params.stateless_reset_token_present = 1;
    if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, qt->reset_secret,
                                                     sizeof(qt->reset_secret), &scid) != 0 ||
        ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &path, hd.version, &cb, &st, &params,
                               NULL, c) != 0 ||
        tls_session_new(c) < 0) {
        c->state = QC_DEAD;
        conn_free(c);
        return;
    }
    ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
    conn_read(c, qs, from, fromlen, data, len);
}

static void listener_dispatch(struct quic_transport *qt, struct quic_sock *qs,
                              const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                              size_t len)
{
    ngtcp2_version_cid vc;
    struct quic_conn *c;
    int rv;

    rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, SCID_LEN);
    /* Another protocol sharing the port (the DHT's datagrams start with
     * 0x01): a short-header-looking datagram without the fixed bit whose
     * DCID belongs to no connection of ours.  The DCID check matters: a
     * peer may clear the fixed bit of 1-RTT packets (RFC 9287 greasing). */
    if (qt->foreign_fn && len > 0 && !(data[0] & 0x80) && !(data[0] & 0x40) &&
        (rv < 0 || !find_by_dcid(qt, vc.dcid, vc.dcidlen))) {
        qt->foreign_in++;
        qt->foreign_fn(data, len, from, fromlen, qt->foreign_arg);
        return;
    }
    if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
        uint8_t buf[256];
        uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
        uint8_t rnd;
        ngtcp2_ssize n;
        randombytes_buf(&rnd, 1);
        n = ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), rnd, vc.scid, vc.scidlen,
                                                 vc.dcid, vc.dcidlen, sv, 1);
        if (n > 0)
            send_raw(qs, from, fromlen, buf, (size_t)n);
        return;
    }
    if (rv < 0)
        return;
    c = find_by_dcid(qt, vc.dcid, vc.dcidlen);
    if (c) {
        conn_read(c, qs, from, fromlen, data, len);
        return;
    }
    if (!(data[0] & 0x80))
        return; /* short header for a connection we do not know */
    server_accept(qt, qs, from, fromlen, data, len);
}

/* The datagram size of a received GRO train (len itself if not coalesced). */
static size_t rx_segment_size(struct msghdr *m, size_t len)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            if (v > 0)
                return (size_t)v;
        }
    return len;
}

/* ------------------------------------------------------------------------ */
/* Unreachable peers.  A killed node's kernel answers our packets with ICMP
 * port unreachable: a dialled (connected) socket reports ECONNREFUSED on
 * receive or send; a listener, with IP(V6)_RECVERR, queues the error with
 * the original destination, which names the peer.  ICMP is easily forged
 * off the path, so it never closes a connection by itself: it starts a
 * probe (a PING now, through a short keep-alive), and only a connection
 * that hears nothing from its peer within max(1 s, 3 smoothed RTTs) dies,
 * as an idle timeout would.  Any packet from the peer ends the probe. */

#define PROBE_MIN_NS    NGTCP2_SECONDS
#define PROBE_RTTS      3
#define ERRQUEUE_BATCH  32
#define PROBE_KEEPALIVE NGTCP2_MILLISECONDS /* "idle for 1 ms": send a PING now */

static void sock_recverr(int fd, int family)
{
    int one = 1;

    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
    /* IPv4 (and v4-mapped peers of a dual-stack socket) */
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
}

static void conn_keepalive_restore(struct quic_conn *c)
{
    const struct vx_transport_conf *cf = &c->qt->conf;

    /* as set up: clients from the start, servers once established */
    if (c->state == QC_OPEN || c->client)
        ngtcp2_conn_set_keep_alive_timeout(c->conn,
                                           (uint64_t)cf->keepalive_ms * NGTCP2_MILLISECONDS);
}

/* The peer of c may be gone (how: where the ICMP error was reported). */
static void conn_unreachable(struct quic_conn *c, const char *how)
{
    ngtcp2_conn_stat cs;
    uint64_t wait;
    char idstr[VX_NODE_ID_STRLEN + 1] = "unknown node";

    if (c->state == QC_DEAD || !c->conn || c->probe_until)
        return;
    ngtcp2_conn_get_conn_stat(c->conn, &cs);
    wait = PROBE_RTTS * cs.smoothed_rtt;
    if (wait < PROBE_MIN_NS)
        wait = PROBE_MIN_NS;
    c->probe_until = now_ns() + wait;
    c->qt->st.icmp_probes++;
    /* before the handshake is done ngtcp2 retransmits on its own */
    if (c->state == QC_OPEN)
        ngtcp2_conn_set_keep_alive_timeout(c->conn, PROBE_KEEPALIVE);
    if (c->have_peer_id || c->expect_id)
        vx_node_id_to_str(c->peer_id, idstr, sizeof(idstr));
    log_info(LD_QUIC, "QUIC peer %s unreachable (ICMP, on %s): probing for %" PRIu64 " ms", idstr,
             how, wait / NGTCP2_MILLISECONDS);
    mark(c, 0, 1);
    conn_arm_timer(c);
}

static void conn_probe_answered(struct quic_conn *c)
{
    c->probe_until = 0;
    conn_keepalive_restore(c);
    log_debug(LD_QUIC, "QUIC peer answered the probe: still there");
}

/* From the timer: 1 (and c is dead) if the probe went unanswered. */
static int conn_probe_expired(struct quic_conn *c, uint64_t now)
{
    if (!c->probe_until || now < c->probe_until)
        return 0;
    c->qt->st.peer_unreachable++;
    conn_die(c, VX_ERR_UNREACH);
    return 1;
}

/* The ICMP errors queued on a listener: probe the connections whose
 * current path leads to the address a packet could not reach. */
static void sock_errqueue(struct quic_sock *qs)
{
    struct quic_transport *qt = qs->qt;

    for (int i = 0; i < ERRQUEUE_BATCH; i++) {
        struct sockaddr_storage to;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
        } ctl;
        uint8_t dummy[1];
        struct iovec iov = {dummy, sizeof(dummy)};
        struct msghdr m = {.msg_name = &to,
                           .msg_namelen = sizeof(to),
                           .msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = ctl.buf,
                           .msg_controllen = sizeof(ctl.buf)};
        const struct sock_extended_err *ee = NULL;

        if (recvmsg(qs->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
                (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR))
                ee = (const struct sock_extended_err *)(const void *)CMSG_DATA(cm);
        if (!ee || m.msg_namelen == 0 ||
            (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) ||
            (ee->ee_errno != ECONNREFUSED && ee->ee_errno != EHOSTUNREACH &&
             ee->ee_errno != ENETUNREACH))
            continue;
        for (struct quic_conn *c = qt->conns; c; c = c->next)
            if (c->lsock == qs && c->state != QC_DEAD && c->conn &&
                sockaddr_eq(ngtcp2_conn_get_path(c->conn)->remote.addr, (struct sockaddr *)&to))
                conn_unreachable(c, "listener");
    }
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct quic_sock *qs = w->data;
    struct quic_transport *qt = qs->qt;
    struct quic_conn *owner = qs->owner;
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    int n;

    if (revents & EV_WRITE) {
        qs->want_out = 0;
        ev_io_stop(loop, &qs->io);
        ev_io_set(&qs->io, qs->fd, EV_READ);
        ev_io_start(loop, &qs->io);
        for (struct quic_conn *c = qt->conns; c; c = c->next)
            if (c->send_blocked && (c->lsock == qs || c->sock[0] == qs || c->sock[1] == qs)) {
                c->send_blocked = 0;
                mark(c, 0, 1);
            }
        if (!qs->owner)
            for (struct quic_conn *c = qt->conns; c; c = c->next)
                if (c->lsock == qs)
                    mark(c, 0, 1);
    }
    if (!(revents & EV_READ))
        return;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i].iov_base = qt->rxbuf[i];
            iov[i].iov_len = RX_SLOT;
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            msgs[i].msg_hdr.msg_control = qt->rxctl[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof(qt->rxctl[i].buf);
        }
        n = recvmmsg(qs->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == ECONNREFUSED && owner && owner->state == QC_HANDSHAKE) {
                conn_die(owner, VX_ERR_UNREACH);
                return;
            }
            if (errno == ECONNREFUSED && owner)
                conn_unreachable(owner, "receive");
            else if (!owner && errno != EINTR)
                sock_errqueue(qs); /* the error (or the wakeup) came from there */
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug(LD_QUIC, "recvmmsg: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len, seg = rx_segment_size(&msgs[i].msg_hdr, len);
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC || len == 0)
                continue;
            /* A GRO train: datagrams of seg bytes back to back, the last
             * one maybe shorter. */
            for (size_t off = 0; off < len; off += seg) {
                size_t k = len - off < seg ? len - off : seg;
                if (owner) {
                    conn_read(owner, qs, (struct sockaddr *)&from[i], msgs[i].msg_hdr.msg_namelen,
                              qt->rxbuf[i] + off, k);
                    if (owner->state == QC_DEAD)
                        return; /* its sockets are gone */
                } else {
                    listener_dispatch(qt, qs, (struct sockaddr *)&from[i],
                                      msgs[i].msg_hdr.msg_namelen, qt->rxbuf[i] + off, k);
                }
            }
        }
        if (n < RX_BATCH)
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* Deferred work and reaping. */

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct quic_transport *qt = w->data;
    struct quic_conn *c, *next;

    (void)revents;
    for (int pass = 0; pass < 16 && qt->work; pass++) {
        qt->work = 0;
        for (c = qt->conns; c; c = c->next) {
            if (c->want_process)
                conn_process(c);
            if (c->want_write)
                conn_write(c);
        }
    }
    if (qt->work && !ev_is_active(&qt->idle))
        ev_idle_start(loop, &qt->idle);
    /* Reap. */
    for (c = qt->conns; c; c = next) {
        struct quic_stream *s, *snext;
        next = c->next;
        for (s = c->streams; s; s = snext) {
            snext = s->next;
            if (s->user_gone && s->quic_closed)
                stream_free(s);
        }
        if (c->state == QC_DEAD && !c->streams)
            conn_free(c);
    }
    qt->st.stream_mem = 0;
    for (c = qt->conns; c; c = c->next)
        for (struct quic_stream *s = c->streams; s; s = s->next)
            qt->st.stream_mem += s->sq.chunks * SQ_CHUNK + vx_buf_mem(s->rb);
}

/* ------------------------------------------------------------------------ */
/* Transport operations. */

static void qt_free(struct vx_transport *t)
{
    struct quic_transport *qt = (struct quic_transport *)t;

    while (qt->conns) {
        struct quic_conn *c = qt->conns;
        if (c->state != QC_DEAD && c->conn) {
            ngtcp2_connection_close_error ccerr;
            ngtcp2_connection_close_error_set_application_error(&ccerr, 0, NULL, 0);
            conn_send_close(c, &ccerr);
            if (c->state == QC_OPEN)
                qt->st.sessions--;
            c->state = QC_DEAD;
        }
        conn_free(c);
    }
    for (int i = 0; i < qt->nlisteners; i++)
        sock_free(qt->listeners[i]);
    ev_prepare_stop(qt->base.loop, &qt->prep);
    ev_idle_stop(qt->base.loop, &qt->idle);
    gnutls_certificate_free_credentials(qt->cred);
    gnutls_priority_deinit(qt->prio);
    vx_identity_wipe(&qt->id);
    sodium_memzero(qt->reset_secret, sizeof(qt->reset_secret));
    sodium_memzero(qt->token_secret, sizeof(qt->token_secret));
    free(qt);
}

static int qt_listen(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen)
{
    struct quic_transport *qt = (struct quic_transport *)t;
    struct quic_sock *qs;
    int err = 0;
    char a[80];

    if (qt->nlisteners == MAX_LISTENERS) {
        errno = EMFILE;
        return VX_ERR_SYS;
    }
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        errno = EAFNOSUPPORT;
        return VX_ERR_SYS;
    }
    qs = sock_new(qt, sa, salen, NULL, 0, &err);
    if (!qs)
        return err;
    qt->listeners[qt->nlisteners++] = qs;
    log_notice(LD_QUIC, "QUIC listening on udp %s",
               addr_str((struct sockaddr *)&qs->local, a, sizeof(a)));
    return 0;
}

static int conn_gone(const struct quic_conn *c)
{
    return c->state == QC_DEAD || (c->conn && (ngtcp2_conn_is_in_closing_period(c->conn) ||
                                               ngtcp2_conn_is_in_draining_period(c->conn)));
}

/* Is c a connection to peer_id (or, with no ID, dialled to addr)? */
static int conn_reaches(const struct quic_conn *c, const uint8_t *peer_id,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    if (peer_id)
        return (c->have_peer_id || c->expect_id) && !memcmp(c->peer_id, peer_id, VX_NODE_ID_LEN);
    return addr && c->client && c->diallen == addrlen &&
           sockaddr_eq((struct sockaddr *)&c->dial, addr);
}

/* A usable connection to the peer for isolation key iso (an open one first). */
static struct quic_conn *find_conn(struct quic_transport *qt, const uint8_t *peer_id,
                                   const struct sockaddr *addr, socklen_t addrlen, uint64_t iso)
{
    struct quic_conn *best = NULL;

    for (struct quic_conn *c = qt->conns; c; c = c->next) {
        if (conn_gone(c) || c->iso != iso || !conn_reaches(c, peer_id, addr, addrlen))
            continue;
        if (!peer_id || !best || (best->state != QC_OPEN && c->state == QC_OPEN))
            best = c;
    }
    return best;
}

/* Isolated connections to the peer, open or still handshaking. */
static uint32_t count_isolated(struct quic_transport *qt, const uint8_t *peer_id,
                               const struct sockaddr *addr, socklen_t addrlen)
{
    uint32_t n = 0;
    for (struct quic_conn *c = qt->conns; c; c = c->next)
        if (c->iso && !conn_gone(c) && conn_reaches(c, peer_id, addr, addrlen))
            n++;
    return n;
}

static struct vx_stream *qt_open(struct vx_transport *t, const uint8_t *peer_id,
                                 const struct sockaddr *addr, socklen_t addrlen,
                                 const struct vx_stream_target *tgt,
                                 const struct vx_stream_cbs *cbs, void *arg, int *err)
{
    struct quic_transport *qt = (struct quic_transport *)t;
    struct quic_conn *c;
    struct quic_stream *s;
    int dummy;

    if (!err)
        err = &dummy;
    if (!tgt || !cbs || !cbs->on_open || !target_valid(tgt) || (!peer_id && !addr)) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    c = find_conn(qt, peer_id, addr, addrlen, tgt->isolation);
    if (!c) {
        if (!addr) {
            *err = VX_ERR_UNREACH;
            return NULL;
        }
        if (qt->nconns >= qt->conf.max_sessions) {
            qt->st.limit_sessions++;
            *err = VX_ERR_LIMIT;
            return NULL;
        }
        if (tgt->isolation && count_isolated(qt, peer_id, addr, addrlen) >= qt->conf.max_isolated) {
            qt->st.limit_isolated++;
            log_info(LD_QUIC,
                     "%u isolated connections to that peer already; refusing another "
                     "(limits.max_sessions_per_peer)",
                     qt->conf.max_isolated);
            *err = VX_ERR_LIMIT;
            return NULL;
        }
        c = conn_client_new(qt, peer_id, addr, addrlen, err);
        if (!c)
            return NULL;
        c->iso = tgt->isolation;
    }
    s = stream_new(c, 1);
    s->state = QS_WAIT_CONN;
    s->cbs = *cbs;
    s->arg = arg;
    s->tgt = *tgt;
    mark(c, 1, 1);
    return (struct vx_stream *)s;
}

static void qt_get_stats(const struct vx_transport *t, struct vx_transport_stats *st)
{
    const struct quic_transport *qt = (const struct quic_transport *)t;
    *st = qt->st;
    st->isolated = 0;
    for (const struct quic_conn *c = qt->conns; c; c = c->next)
        if (c->iso && c->state == QC_OPEN)
            st->isolated++;
}

static const char *cipher_name(gnutls_session_t tls)
{
    switch (gnutls_cipher_get(tls)) {
    case GNUTLS_CIPHER_AES_128_GCM:
        return "aes-128-gcm";
    case GNUTLS_CIPHER_AES_256_GCM:
        return "aes-256-gcm";
    case GNUTLS_CIPHER_CHACHA20_POLY1305:
        return "chacha20-poly1305";
    default:
        return "unknown";
    }
}

static void qt_foreach_session(const struct vx_transport *t, vx_session_visit_fn fn, void *arg)
{
    const struct quic_transport *qt = (const struct quic_transport *)t;

    for (struct quic_conn *c = qt->conns; c; c = c->next) {
        struct vx_session_info info;
        const ngtcp2_path *p;
        ngtcp2_conn_stat cs;

        if (c->state != QC_OPEN)
            continue;
        memset(&info, 0, sizeof(info));
        memcpy(info.peer_id, c->peer_id, VX_NODE_ID_LEN);
        info.isolated = c->iso != 0;
        p = ngtcp2_conn_get_path(c->conn);
        if (p->remote.addrlen <= sizeof(info.addr)) {
            memcpy(&info.addr, p->remote.addr, p->remote.addrlen);
            info.addrlen = p->remote.addrlen;
        }
        info.initiator = c->client;
        info.streams = (uint32_t)conn_user_streams(c);
        info.bytes_in = c->bytes_in;
        info.bytes_out = c->bytes_out;
        info.established_ms = c->established_ms;
        ngtcp2_conn_get_conn_stat(c->conn, &cs);
        info.rtt_ms = (uint32_t)(cs.smoothed_rtt / NGTCP2_MILLISECONDS);
        info.cipher = cipher_name(c->tls);
        fn(&info, arg);
    }
}

static const struct vx_transport_ops quic_ops = {
        .free = qt_free,
        .listen = qt_listen,
        .open = qt_open,
        .get_stats = qt_get_stats,
        .foreach_session = qt_foreach_session,
};

struct vx_transport *vx_transport_quic_new(struct ev_loop *loop, const struct vx_identity *id,
                                           const struct vx_transport_conf *conf)
{
    struct quic_transport *qt = calloc(1, sizeof(*qt));

    if (!qt || sodium_init() < 0)
        abort();
    vx_transport_base_init(&qt->base, &quic_ops, VX_TRANSPORT_QUIC, loop);
    qt->id = *id;
    if (conf)
        qt->conf = *conf;
    else
        vx_transport_conf_defaults(&qt->conf);
    if (qt->conf.stream_window < 4096)
        qt->conf.stream_window = 4096;
    if (qt->conf.session_window < qt->conf.stream_window)
        qt->conf.session_window = qt->conf.stream_window;
    if (!qt->conf.max_streams)
        qt->conf.max_streams = 1;
    if (!qt->conf.max_isolated)
        qt->conf.max_isolated = 1;
    gnutls_global_set_log_function(gnutls_log_cb);
    gnutls_global_set_log_level(vx_log_enabled(LD_TLS, VX_LOG_DEBUG) ? 3 : 0);
    if (gnutls_priority_init(&qt->prio, tls_priority, NULL) < 0 || make_credentials(qt) < 0) {
        log_err(LD_TLS, "cannot set up TLS for QUIC (certificate from the node key)");
        abort();
    }
    gnutls_certificate_set_verify_function(qt->cred, verify_peer_cb);
    randombytes_buf(qt->reset_secret, sizeof(qt->reset_secret));
    rotate_token_secret(qt);
    ev_prepare_init(&qt->prep, prepare_cb);
    qt->prep.data = qt;
    ev_prepare_start(loop, &qt->prep);
    ev_idle_init(&qt->idle, idle_cb);
    return (struct vx_transport *)qt;
}

int vx_transport_quic_rebind(struct vx_transport *t)
{
    struct quic_transport *qt = (struct quic_transport *)t;
    int moved = 0;

    if (!t || qt->base.ops != &quic_ops)
        return VX_ERR_INVAL;
    for (struct quic_conn *c = qt->conns; c; c = c->next) {
        struct quic_sock *qs;
        ngtcp2_path path;
        int err = 0, rv;

        if (!c->client || c->state != QC_OPEN)
            continue;
        qs = sock_new(qt, NULL, 0, (struct sockaddr *)&c->dial, c->diallen, &err);
        if (!qs)
            continue;
        qs->owner = c;
        path.local.addr = (ngtcp2_sockaddr *)&qs->local;
        path.local.addrlen = qs->locallen;
        path.remote.addr = (ngtcp2_sockaddr *)&c->dial;
        path.remote.addrlen = c->diallen;
        path.user_data = NULL;
        rv = ngtcp2_conn_initiate_immediate_migration(c->conn, &path, now_ns());
        if (rv != 0) {
            log_info(LD_QUIC, "QUIC migration not possible: %s", ngtcp2_strerror(rv));
            sock_free(qs);
            continue;
        }
        sock_free(c->sock[1]);
        c->sock[1] = c->sock[0];
        c->sock[0] = qs;
        moved++;
        mark(c, 1, 1);
    }
    return moved;
}

int vx_transport_quic_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                                 socklen_t *len)
{
    const struct quic_transport *qt = (const struct quic_transport *)t;

    if (qt->base.ops != &quic_ops || !qt->nlisteners)
        return VX_ERR_NOTFOUND;
    memcpy(ss, &qt->listeners[0]->local, qt->listeners[0]->locallen);
    *len = qt->listeners[0]->locallen;
    return 0;
}

int vx_transport_quic_set_foreign(struct vx_transport *t, vx_quic_foreign_fn fn, void *arg)
{
    struct quic_transport *qt = (struct quic_transport *)t;

    if (!qt || qt->base.ops != &quic_ops)
        return VX_ERR_INVAL;
    qt->foreign_fn = fn;
    qt->foreign_arg = arg;
    return 0;
}

int vx_transport_quic_udp_fd(const struct vx_transport *t)
{
    const struct quic_transport *qt = (const struct quic_transport *)t;

    if (!qt || qt->base.ops != &quic_ops || !qt->nlisteners)
        return VX_ERR_NOTFOUND;
    return qt->listeners[0]->fd;
}
