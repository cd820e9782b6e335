/* transport.h — authenticated, encrypted, multiplexed streams between nodes.
 *
 * One interface, several carriers: TCP + Noise (transport/tcp.c) and QUIC
 * (transport/quic.c).  A transport owns its listening sockets and its sessions
 * (one per peer node, reused for many streams).  Higher layers see only
 * streams: open one to a node ID, or accept one that a peer opened, then
 * splice it to a local socket.  All callbacks run on the transport's libev
 * loop.
 *
 * Stream life cycle:
 *   opener:   vx_transport_open() -> on_open(0) -> vx_stream_splice(fd) -> on_close()
 *             or on_open(err) (the stream is released right after on_open returns)
 *   acceptor: accept_fn(stream, target) -> vx_stream_accept(0) -> vx_stream_splice(fd)
 *             -> on_close(), or vx_stream_accept(err) which refuses and releases it.
 *   Either side may call vx_stream_close(s, err) at any time: it resets the
 *   stream, releases it (closing a spliced fd) and no further callback comes.
 */
#ifndef VX6_TRANSPORT_TRANSPORT_H
#define VX6_TRANSPORT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "crypto/identity.h"

struct ev_loop;
struct vx_transport;
struct vx_stream;

enum vx_transport_kind {
    VX_TRANSPORT_TCP = 1,
    VX_TRANSPORT_QUIC = 2,
    VX_TRANSPORT_AUTO = 3, /* QUIC with TCP fallback (transport/auto.h) */
};

#define VX_TARGET_NAME_MAX 63
#define VX_TARGET_DATA_MAX 256

/* What a stream asks of the remote node; carried in the stream-open message. */
enum vx_target_kind {
    VX_TARGET_SERVICE = 1, /* a published service on that node, by name and port */
    VX_TARGET_HIDDEN = 2,  /* hidden-service rendezvous traffic (path layer) */
    VX_TARGET_RELAY = 3,   /* circuit extension through a relay (path layer) */
};

struct vx_stream_target {
    uint8_t kind;                       /* enum vx_target_kind */
    uint16_t port;                      /* virtual port the client asked for */
    char name[VX_TARGET_NAME_MAX + 1];  /* service name, NUL-terminated */
    uint16_t data_len;                  /* opaque bytes for higher layers */
    uint8_t data[VX_TARGET_DATA_MAX];
    /* Local only, never sent: the opener's isolation key.  0 shares the
     * peer's default session; any other value gets a session of its own
     * (dialled for it, reused only by opens with the same key), so streams
     * of different keys never share a connection to the peer.  Ignored on
     * incoming streams. */
    uint64_t isolation;
};

struct vx_stream_cbs {
    /* Outgoing open finished.  err is 0 when the remote accepted, else the
     * remote's refusal (e.g. VX_ERR_REFUSED, VX_ERR_NOTFOUND, VX_ERR_DENIED) or
     * a local failure (VX_ERR_TIMEOUT, VX_ERR_UNREACH, VX_ERR_PEER_ID, ...).
     * On error the stream is released right after on_open returns. */
    void (*on_open)(struct vx_stream *s, int err, void *arg);
    /* The stream is finished: both directions completed (err 0) or it was
     * reset / its session died (err < 0).  Released right after return. */
    void (*on_close)(struct vx_stream *s, int err, void *arg);
};

struct vx_transport_conf {
    uint32_t handshake_timeout_ms; /* whole handshake, and each stream open */
    uint32_t keepalive_ms;         /* ping an idle session this often */
    uint32_t dead_peer_ms;         /* no frame for this long: session is dead */
    uint32_t idle_session_ms;      /* close a session with no streams after */
    uint32_t stream_window;        /* initial per-stream receive window, bytes */
    uint32_t session_window;       /* initial per-session receive window, bytes */
    uint32_t max_streams;          /* concurrent streams per session */
    uint32_t max_sessions;         /* concurrent sessions per transport */
    uint32_t max_isolated;         /* isolated sessions per peer (target.isolation) */
    uint64_t rekey_bytes;          /* rekey a direction after this many bytes */
    uint32_t rekey_seconds;        /* ...or after this long */
};

/* Sensible defaults for every field. */
void vx_transport_conf_defaults(struct vx_transport_conf *conf);

/* A TCP + Noise transport.  Never returns NULL (aborts on OOM). */
struct vx_transport *vx_transport_tcp_new(struct ev_loop *loop, const struct vx_identity *id,
                                          const struct vx_transport_conf *conf);
/* Close every session and listener, release everything.  Accepts NULL. */
void vx_transport_free(struct vx_transport *t);

enum vx_transport_kind vx_transport_kind(const struct vx_transport *t);

/* Listen for peers at sa.  0 or VX_ERR_SYS (errno set). */
int vx_transport_listen(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen);

/* Called for each stream a peer opens.  The callee must answer with
 * vx_stream_accept() (now or later, within the open timeout). */
typedef void (*vx_accept_fn)(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg);
void vx_transport_set_accept(struct vx_transport *t, vx_accept_fn fn, void *arg);

/* Open a stream to a node.  peer_id: the node we must reach (NULL: whichever
 * node answers at addr — direct IPv6 mode, where the ID is learnt in the
 * handshake).  addr: where to dial if no session to peer_id exists (NULL:
 * only an existing session may be used).  Returns the stream in the opening
 * state; cbs->on_open reports the outcome in bounded time.  Returns NULL and
 * sets *err on immediate failure (bad arguments, limits). */
struct vx_stream *vx_transport_open(struct vx_transport *t, const uint8_t *peer_id,
                                    const struct sockaddr *addr, socklen_t addrlen,
                                    const struct vx_stream_target *tgt,
                                    const struct vx_stream_cbs *cbs, void *arg, int *err);

/* Answer an incoming open: status 0 accepts (cbs/arg then apply), a negative
 * VX_ERR_* refuses with that reason and releases the stream. */
void vx_stream_accept(struct vx_stream *s, int status, const struct vx_stream_cbs *cbs,
                      void *arg);

/* Give an open stream a connected local socket (made non-blocking here).
 * From then on bytes flow both ways with flow control: the stream reads from
 * fd only while the peer's window allows, and stops reading the session for
 * this stream while fd is not writable.  EOF on fd sends FIN; the peer's FIN
 * does shutdown(fd, SHUT_WR).  When both directions are done, fd is closed
 * and on_close(0) runs.  The stream owns fd from this call on, even on error. */
int vx_stream_splice(struct vx_stream *s, int fd);

/* Byte-level access instead of splicing (relays and circuits transform bytes).
 * All callbacks run on the loop; each may call any vx_stream_* function on
 * this or another stream, including vx_stream_close() on this one.
 *
 *   on_data:     len bytes from the peer.  Return how many were consumed
 *                (0..len).  Unconsumed bytes stay buffered in the stream and
 *                their credit is withheld from the peer (backpressure); no
 *                more on_data comes until vx_stream_read_resume().
 *   on_fin:      the peer will send nothing more (after all data).
 *   on_writable: a vx_stream_write() that answered VX_ERR_AGAIN or wrote
 *                short can now make progress.
 * The stream finishes (on_close(0)) once on_fin has run and the local side
 * called vx_stream_shutdown(); a reset or session loss gives on_close(err). */
struct vx_stream_io {
    size_t (*on_data)(struct vx_stream *s, const uint8_t *data, size_t len, void *arg);
    void (*on_fin)(struct vx_stream *s, void *arg);
    void (*on_writable)(struct vx_stream *s, void *arg);
};

/* Attach io callbacks to an open, unspliced stream (instead of
 * vx_stream_splice).  Data the peer sent already is delivered just before
 * the loop next sleeps, never from inside this call.  0 or VX_ERR_INVAL. */
int vx_stream_attach(struct vx_stream *s, const struct vx_stream_io *io, void *arg);

/* Queue up to len bytes for the peer.  Returns the count accepted (> 0, may
 * be short) or VX_ERR_AGAIN when the stream's or session's send window is
 * closed or the session's output is above its high-water mark (on_writable
 * follows when that changes), VX_ERR_CLOSED after vx_stream_shutdown(),
 * VX_ERR_INVAL when the stream is not open and attached. */
ssize_t vx_stream_write(struct vx_stream *s, const uint8_t *data, size_t len);

/* Send FIN: no more data from this side.  0 or VX_ERR_INVAL. */
int vx_stream_shutdown(struct vx_stream *s);

/* Resume delivery after on_data consumed less than it was given.  Buffered
 * bytes are delivered just before the loop next sleeps. */
void vx_stream_read_resume(struct vx_stream *s);

/* vx_stream_splice() with len bytes the caller already read from fd (early
 * client data, a rewritten HTTP request head): they are copied and sent to
 * the peer, in order, before anything read from fd.  data may be NULL when
 * len is 0.  Same ownership and return values as vx_stream_splice(). */
int vx_stream_splice_data(struct vx_stream *s, int fd, const uint8_t *data, size_t len);

/* Reset and release the stream now (closes a spliced fd).  No callback
 * follows.  err is sent to the peer as the reset reason. */
void vx_stream_close(struct vx_stream *s, int err);

/* Node ID of the other end of the stream's session. */
const uint8_t *vx_stream_peer_id(const struct vx_stream *s);

/* Called when a session that a peer dialled fails before it is established
 * (malformed handshake, failed authentication, handshake timeout), with the
 * peer's address and the reason.  The daemon feeds it to the XDP blocklist
 * and the error counters.  fn NULL removes the hook. */
typedef void (*vx_handshake_fail_fn)(const struct sockaddr *sa, socklen_t salen, int err,
                                     void *arg);
void vx_transport_set_handshake_fail(struct vx_transport *t, vx_handshake_fail_fn fn, void *arg);

struct vx_transport_stats {
    uint64_t sessions;          /* open now */
    uint64_t streams;           /* open now */
    uint64_t sessions_total;    /* established since start */
    uint64_t handshakes_failed; /* since start */
    uint64_t streams_total;     /* opened or accepted since start */
    uint64_t bytes_in;          /* stream payload bytes received */
    uint64_t bytes_out;         /* stream payload bytes sent */
    uint64_t stream_mem;        /* bytes buffered for streams right now */
    uint64_t limit_sessions;    /* sessions refused: max_sessions reached */
    uint64_t limit_streams;     /* streams refused: max_streams per session */
    uint64_t limit_isolated;    /* opens refused: max_isolated sessions to the peer */
    uint64_t isolated;          /* isolated sessions open now (in `sessions`) */
    uint64_t icmp_probes;       /* QUIC: peers probed after an ICMP error */
    uint64_t peer_unreachable;  /* QUIC: sessions closed, the probe unanswered */
};
void vx_transport_get_stats(const struct vx_transport *t, struct vx_transport_stats *st);

struct vx_session_info {
    uint8_t peer_id[VX_NODE_ID_LEN];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int initiator;        /* we dialled */
    uint32_t streams;     /* open now */
    uint64_t bytes_in, bytes_out;
    uint64_t established_ms; /* vx_time_mono_ms() when the handshake completed */
    uint32_t rtt_ms;      /* last keepalive round trip, 0 if unknown */
    const char *cipher;   /* "chacha20-poly1305" or "aes-256-gcm" */
    int isolated;         /* dialled for a nonzero target.isolation */
};
typedef void (*vx_session_visit_fn)(const struct vx_session_info *info, void *arg);
void vx_transport_foreach_session(const struct vx_transport *t, vx_session_visit_fn fn, void *arg);

#endif
