/* tcp.c — the TCP + Noise transport: sessions, records, multiplexed streams.
 *
 * A session is one TCP connection to one peer node.  It starts with a Noise
 * handshake (XX, or IK when we know the peer's key), then carries AEAD
 * records whose plaintext is a sequence of frames (wire/frame.h).  Streams
 * are multiplexed over the session with per-stream and per-session credit.
 *
 * Memory and lifetime: sessions and streams are explicit state machines with
 * their watchers embedded.  Killing or releasing one stops its watchers and
 * unlinks it at once, then parks it on the transport's reap list; an ev_check
 * watcher frees parked objects, so no callback ever sees freed memory.
 * Control frames are collected in an open record at the tail of the session's
 * output buffer and sealed by an ev_prepare watcher just before the loop
 * sleeps; bulk data is read from the local socket straight into a record,
 * sealed in place and written at once.
 */
#include "transport/tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>

#include "crypto/channel.h"
#include "crypto/noise.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "transport/transport_impl.h"
#include "wire/cursor.h"
#include "wire/frame.h"
#include "lib/xalloc.h"

_Static_assert(VX_TARGET_NAME_MAX == VX_WIRE_NAME_MAX, "target name size");
_Static_assert(VX_TARGET_DATA_MAX == VX_WIRE_TDATA_MAX, "target data size");

#define PROLOGUE   "VX6 session v1"
#define OUT_HWM    (256u * 1024) /* stop reading local sockets above this */
#define OUT_LWM    (64u * 1024)  /* ...and resume below this */
#define IN_CAP     (4u * VX_REC_MAX_WIRE)
#define SOCK_BUF   (4 * 1024 * 1024)
#define MIN_WINDOW 4096u
#define PEND_MAX   8 /* DATA frames gathered into one write to a local socket */

enum sess_state {
    SS_CONNECTING, /* TCP connect in progress (initiator) */
    SS_HANDSHAKE,  /* Noise messages being exchanged */
    SS_OPEN,       /* records flow */
    SS_DEAD,       /* unlinked, waiting for the reaper */
};

enum stream_state {
    ST_WAIT_SESSION, /* opener: session not established yet */
    ST_OPENING,      /* opener: STREAM_OPEN sent, no answer yet */
    ST_ACCEPTING,    /* acceptor: waiting for vx_stream_accept() */
    ST_OPEN,         /* both sides agreed; data may flow */
    ST_ORPHAN,       /* acceptor: session or timer gone, app has not answered */
    ST_DEAD,         /* released, waiting for the reaper */
};

struct session;

struct vx_stream {
    struct vx_stream_base base; /* first: transport.c dispatches through it */
    struct vx_transport *t;
    struct session *sess;
    struct vx_stream *hnext;       /* session hash chain */
    struct vx_stream *prev, *next; /* session list */
    struct vx_stream *reap_next;
    enum stream_state state;
    uint32_t sid;
    struct vx_stream_cbs cbs;
    void *arg;
    struct vx_stream_target *target; /* opener, until STREAM_OPEN is sent */
    int fd;
    ev_io rw, ww;
    ev_timer open_timer;
    int64_t tx_credit;   /* bytes the peer still accepts on this stream */
    uint32_t rx_left;    /* bytes the peer may still send us */
    uint32_t rx_unacked; /* delivered, not yet credited back */
    struct vx_buf *rbuf; /* peer data not yet written to fd */
    struct vx_buf *tbuf; /* early data to send before reading fd (splice_data) */
    unsigned spliced : 1;
    unsigned attached : 1;
    unsigned paused : 1;        /* attached: on_data consumed short */
    unsigned want_writable : 1; /* attached: a write answered AGAIN or short */
    unsigned kicked : 1;
    unsigned local_eof : 1; /* fd gave EOF, FIN queued */
    unsigned peer_fin : 1;  /* FIN received */
    unsigned shut_done : 1; /* shutdown(SHUT_WR) done after peer FIN */
    unsigned opener : 1;
    unsigned open_sent : 1;
    unsigned is_sock : 1;
    uint8_t peer_id[VX_NODE_ID_LEN];
    /* byte-level access (vx_stream_attach): rbuf then holds unconsumed data */
    struct vx_stream_io io;
    void *io_arg;
    struct vx_stream *kick_next; /* transport's kicked list */
};

struct session {
    struct vx_transport *t;
    struct session *prev, *next;
    struct session *dirty_next, *reap_next;
    enum sess_state state;
    int fd;
    int initiator;
    int dirty;
    int going_away; /* GOAWAY received: no new streams here */
    uint64_t iso;   /* dialled for this target.isolation (0: the shared one) */
    int goaway_sent;
    int fail_err; /* deferred failure (dial error) */
    ev_io rw, ww;
    ev_timer hs_timer;
    ev_timer tick;
    struct sockaddr_storage addr;
    socklen_t addrlen;

    /* handshake */
    struct vx_noise *noise;
    uint8_t pattern;
    int hs_first_done; /* responder: first header seen / initiator: first sent */
    int have_expected;
    uint8_t expected_id[VX_NODE_ID_LEN];
    uint8_t peer_id[VX_NODE_ID_LEN];
    uint8_t peer_pk[VX_PK_LEN];
    struct vx_wire_hello peer_hello;

    /* records */
    struct vx_chan *tx, *rx;
    enum vx_aead aead;
    uint8_t *in;
    size_t in_off, in_len;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    /* DATA for one spliced stream, decrypted in place in `in` and written
     * with one sendmsg once the read's records are processed. */
    struct vx_stream *pend_st;
    struct iovec pend_iov[PEND_MAX];
    int pend_n;
    size_t pend_len;
    size_t rec_start;
    int rec_open;
    int out_blocked;
    int rekey_due;
    uint64_t tx_since_rekey;
    uint64_t rekey_at_ms;

    /* streams */
    struct vx_stream **tab;
    uint32_t tab_size;
    struct vx_stream *streams, *streams_tail; /* in creation (= stream ID) order */
    uint32_t nstreams;
    uint32_t next_sid;
    uint32_t peer_last_sid;

    /* flow control */
    int64_t tx_credit;
    uint64_t rx_left;
    uint64_t rx_unacked;

    /* time */
    uint64_t last_rx_ms, idle_since_ms, established_ms, ping_sent_ms;
    uint32_t rtt_ms;
    uint64_t bytes_in, bytes_out;
};

struct listener {
    struct vx_transport *t;
    struct listener *next;
    int fd;
    ev_io w;
};

struct known_key {
    struct known_key *next;
    uint8_t id[VX_NODE_ID_LEN];
    uint8_t pk[VX_PK_LEN];
};

struct vx_transport {
    struct vx_transport_base base; /* first: transport.c dispatches through it */
    struct ev_loop *loop;
    struct vx_identity id;
    struct vx_transport_conf conf;
    unsigned aead_mask;
    struct listener *listeners;
    struct session *sessions;
    struct session *dirty;
    struct session *reap_sessions;
    struct vx_stream *reap_streams;
    struct vx_stream *orphans;
    struct vx_stream *kicked; /* attached streams with deferred work */
    struct known_key *keys;
    ev_check reap_w;
    ev_prepare flush_w;
    uint32_t nsessions;
    int freeing;
    struct vx_transport_stats st;
    struct vx_tcp_counters ctr;
};

static const struct vx_transport_ops tcp_ops;
static const struct vx_stream_ops tcp_stream_ops;

/* ---------------------------------------------------------------------- */
/* stream table */

static uint32_t sid_hash(uint32_t sid, uint32_t size)
{
    return (sid * 2654435761u) & (size - 1);
}

static struct vx_stream *tab_find(const struct session *s, uint32_t sid)
{
    if (!s->tab)
        return NULL;
    for (struct vx_stream *st = s->tab[sid_hash(sid, s->tab_size)]; st; st = st->hnext)
        if (st->sid == sid)
            return st;
    return NULL;
}

static void tab_insert(struct session *s, struct vx_stream *st)
{
    if (!s->tab || s->nstreams + 1 > s->tab_size) {
        uint32_t nsize = s->tab ? s->tab_size * 2 : 64;
        struct vx_stream **nt = xcalloc(nsize, sizeof(*nt));
        for (struct vx_stream *x = s->streams; x; x = x->next) {
            if (x == st || !x->sid)
                continue;
            uint32_t h = sid_hash(x->sid, nsize);
            x->hnext = nt[h];
            nt[h] = x;
        }
        free(s->tab);
        s->tab = nt;
        s->tab_size = nsize;
    }
    uint32_t h = sid_hash(st->sid, s->tab_size);
    st->hnext = s->tab[h];
    s->tab[h] = st;
}

static void tab_remove(struct session *s, struct vx_stream *st)
{
    if (!s->tab)
        return;
    for (struct vx_stream **pp = &s->tab[sid_hash(st->sid, s->tab_size)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == st) {
            *pp = st->hnext;
            st->hnext = NULL;
            return;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* output: records at the tail of the session's output buffer */

static void sess_kill(struct session *s, int err, const char *why);
static void sess_mark_dirty(struct session *s);
static void stream_update_read(struct vx_stream *st);
static void stream_release(struct vx_stream *st);

static void out_reserve(struct session *s, size_t need)
{
    if (s->out_cap - s->out_len >= need)
        return;
    if (s->out_off > 0 && !s->rec_open) {
        memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
        s->out_len -= s->out_off;
        s->out_off = 0;
        if (s->out_cap - s->out_len >= need)
            return;
    }
    /* Only control frames can push past the high-water mark; grow for them. */
    size_t ncap = s->out_cap * 2;
    while (ncap - s->out_len < need)
        ncap *= 2;
    uint8_t *n = realloc(s->out, ncap);
    if (!n)
        abort();
    s->out = n;
    s->out_cap = ncap;
}

static void rec_begin(struct session *s)
{
    if (s->rec_open)
        return;
    out_reserve(s, VX_REC_MAX_WIRE);
    s->rec_start = s->out_len;
    s->out_len += VX_REC_HDR_LEN;
    s->rec_open = 1;
}

/* Plaintext room left in the open record.  One byte stays free for REKEY. */
static size_t rec_room(const struct session *s)
{
    size_t used = s->out_len - s->rec_start - VX_REC_HDR_LEN;
    return VX_REC_MAX_PLAIN - 1 - used;
}

static int rec_seal(struct session *s)
{
    if (!s->rec_open)
        return 0;
    size_t plen = s->out_len - s->rec_start - VX_REC_HDR_LEN;
    s->rec_open = 0;
    if (plen == 0) {
        s->out_len = s->rec_start;
        return 0;
    }
    const struct vx_transport_conf *c = &s->t->conf;
    int rekey = s->rekey_due || (c->rekey_bytes && s->tx_since_rekey + plen >= c->rekey_bytes);
    if (rekey) {
        s->out[s->out_len++] = VX_FR_REKEY;
        plen++;
    }
    uint8_t *hdr = s->out + s->rec_start;
    vx_wire_rec_hdr_encode(hdr, plen);
    int r = vx_chan_seal(s->tx, hdr + VX_REC_HDR_LEN, plen, hdr, VX_REC_HDR_LEN);
    if (r < 0) {
        s->out_len = s->rec_start;
        return r;
    }
    s->out_len += VX_REC_TAG_LEN;
    s->tx_since_rekey += plen;
    s->t->ctr.records_out++;
    if (rekey) {
        vx_chan_rekey(s->tx);
        s->rekey_due = 0;
        s->tx_since_rekey = 0;
        s->rekey_at_ms = vx_time_mono_ms();
        s->t->ctr.rekeys_tx++;
        log_debug(LD_SESSION, "session: rekeyed the sending direction");
    }
    return 0;
}

/* Append one control frame to the open record (opening one as needed). */
static void sess_frame(struct session *s, const struct vx_frame *f)
{
    uint8_t tmp[VX_FRAME_MAX_CTRL];
    size_t n = 0;
    if (s->state != SS_OPEN)
        return;
    if (vx_frame_encode(f, tmp, sizeof(tmp), &n) < 0) {
        log_err(LD_SESSION, "session: cannot encode %s frame", vx_frame_type_name(f->type));
        return;
    }
    if (s->rec_open && rec_room(s) < n && rec_seal(s) < 0) {
        sess_kill(s, VX_ERR_LIMIT, "nonce space exhausted");
        return;
    }
    rec_begin(s);
    memcpy(s->out + s->out_len, tmp, n);
    s->out_len += n;
    sess_mark_dirty(s);
}

static void sess_update_blocked(struct session *s)
{
    size_t pending = s->out_len - s->out_off;
    if (!s->out_blocked && pending > OUT_HWM) {
        s->out_blocked = 1;
    } else if (s->out_blocked && pending < OUT_LWM) {
        s->out_blocked = 0;
        for (struct vx_stream *st = s->streams; st; st = st->next)
            stream_update_read(st);
    }
}

/* Write as much of the output buffer as the socket takes. */
static void sess_write(struct session *s)
{
    while (s->out_off < s->out_len) {
        size_t end = s->rec_open ? s->rec_start : s->out_len;
        if (end <= s->out_off)
            break;
        ssize_t n = write(s->fd, s->out + s->out_off, end - s->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            log_info(LD_NET, "session: write failed: %s", strerror(errno));
            sess_kill(s, VX_ERR_CLOSED, "write failed");
            return;
        }
        s->out_off += (size_t)n;
    }
    if (s->out_off == s->out_len) {
        s->out_off = s->out_len = 0;
        ev_io_stop(s->t->loop, &s->ww);
    } else if (s->out_off == s->rec_start && s->rec_open) {
        ev_io_stop(s->t->loop, &s->ww);
    } else if (s->state != SS_CONNECTING) {
        ev_io_start(s->t->loop, &s->ww);
    }
    if (s->state == SS_OPEN)
        sess_update_blocked(s);
}

/* Seal the open record and write. */
static void sess_flush(struct session *s)
{
    if (s->state == SS_DEAD)
        return;
    if (s->state == SS_OPEN && rec_seal(s) < 0) {
        sess_kill(s, VX_ERR_LIMIT, "nonce space exhausted");
        return;
    }
    sess_write(s);
}

static void sess_mark_dirty(struct session *s)
{
    if (s->dirty)
        return;
    s->dirty = 1;
    s->dirty_next = s->t->dirty;
    s->t->dirty = s;
}

static void stream_kick_run(struct vx_stream *st);

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct vx_transport *t = w->data;
    while (t->kicked) {
        struct vx_stream *st = t->kicked;
        t->kicked = st->kick_next;
        st->kick_next = NULL;
        st->kicked = 0;
        stream_kick_run(st);
    }
    while (t->dirty) {
        struct session *s = t->dirty;
        t->dirty = s->dirty_next;
        s->dirty = 0;
        sess_flush(s);
    }
}

/* ---------------------------------------------------------------------- */
/* streams */

static void stream_send(struct vx_stream *st, uint8_t type, uint16_t reason)
{
    struct vx_frame f = {.type = type, .sid = st->sid, .reason = reason};
    if (st->sess)
        sess_frame(st->sess, &f);
}

static void sess_consumed(struct session *s, size_t n)
{
    uint32_t win = s->t->conf.session_window;
    s->rx_unacked += n;
    if (s->rx_unacked >= win / 4) {
        struct vx_frame f = {
                .type = VX_FR_WINDOW_UPDATE, .sid = 0, .incr = (uint32_t)s->rx_unacked};
        s->rx_left += s->rx_unacked;
        s->rx_unacked = 0;
        sess_frame(s, &f);
    }
}

/* n bytes of this stream's data left our memory (written to the fd). */
static void stream_consumed(struct vx_stream *st, size_t n)
{
    struct session *s = st->sess;
    if (!s || n == 0)
        return;
    sess_consumed(s, n);
    if (st->peer_fin)
        return; /* no more data will come: no credit needed */
    st->rx_unacked += (uint32_t)n;
    if (st->rx_unacked >= s->t->conf.stream_window / 4) {
        struct vx_frame f = {.type = VX_FR_WINDOW_UPDATE, .sid = st->sid, .incr = st->rx_unacked};
        st->rx_left += st->rx_unacked;
        st->rx_unacked = 0;
        sess_frame(s, &f);
    }
}

static void stream_park(struct vx_stream *st)
{
    struct vx_transport *t = st->t;
    st->state = ST_DEAD;
    st->reap_next = t->reap_streams;
    t->reap_streams = st;
}

/* Unlink from the session, stop everything, close the fd.  No callback. */
static void stream_unlink(struct vx_stream *st)
{
    struct vx_transport *t = st->t;
    struct session *s = st->sess;
    ev_io_stop(t->loop, &st->rw);
    ev_io_stop(t->loop, &st->ww);
    ev_timer_stop(t->loop, &st->open_timer);
    if (st->kicked) {
        for (struct vx_stream **pp = &t->kicked; *pp; pp = &(*pp)->kick_next) {
            if (*pp == st) {
                *pp = st->kick_next;
                break;
            }
        }
        st->kicked = 0;
        st->kick_next = NULL;
    }
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    if (st->rbuf) {
        if (s && s->state != SS_DEAD)
            sess_consumed(s, vx_buf_len(st->rbuf));
        vx_buf_free(st->rbuf);
        st->rbuf = NULL;
    }
    vx_buf_free(st->tbuf);
    st->tbuf = NULL;
    if (s) {
        if (st->sid)
            tab_remove(s, st);
        if (st->prev)
            st->prev->next = st->next;
        else
            s->streams = st->next;
        if (st->next)
            st->next->prev = st->prev;
        else
            s->streams_tail = st->prev;
        st->prev = st->next = NULL;
        s->nstreams--;
        if (s->nstreams == 0)
            s->idle_since_ms = vx_time_mono_ms();
        st->sess = NULL;
        t->st.streams--;
    }
    free(st->target);
    st->target = NULL;
}

/* Release: unlink and park for the reaper.  No callback. */
static void stream_release(struct vx_stream *st)
{
    if (st->state == ST_DEAD)
        return;
    if (st->state == ST_ORPHAN) {
        struct vx_stream **pp = &st->t->orphans;
        while (*pp && *pp != st)
            pp = &(*pp)->reap_next;
        if (*pp)
            *pp = st->reap_next;
    } else {
        stream_unlink(st);
    }
    stream_park(st);
}

/* An acceptor stream whose answer has not come yet: keep the struct until the
 * application calls vx_stream_accept() or vx_stream_close(). */
static void stream_orphan(struct vx_stream *st)
{
    stream_unlink(st);
    st->state = ST_ORPHAN;
    st->reap_next = st->t->orphans;
    st->t->orphans = st;
}

/* Opener: release, then report the failed open (the struct lives until the
 * reaper runs, and vx_stream_close() on it is a no-op). */
static void stream_fail_open(struct vx_stream *st, int err)
{
    if (st->state == ST_DEAD)
        return;
    stream_unlink(st);
    stream_park(st);
    if (!st->t->freeing && st->cbs.on_open)
        st->cbs.on_open(st, err, st->arg);
}

/* Open stream: report the end, then release. */
static void stream_finish(struct vx_stream *st, int err)
{
    if (st->state == ST_DEAD)
        return;
    stream_unlink(st);
    stream_park(st);
    if (!st->t->freeing && st->cbs.on_close)
        st->cbs.on_close(st, err, st->arg);
}

static void stream_check_done(struct vx_stream *st)
{
    if (st->state == ST_OPEN && st->local_eof && st->shut_done)
        stream_finish(st, 0);
}

/* Defer work on an attached stream to the flush watcher (no re-entrancy). */
static void stream_kick(struct vx_stream *st)
{
    if (st->kicked || !st->attached || st->state != ST_OPEN)
        return;
    st->kicked = 1;
    st->kick_next = st->t->kicked;
    st->t->kicked = st;
}

static int stream_can_write(const struct vx_stream *st)
{
    const struct session *s = st->sess;
    return s && s->state == SS_OPEN && st->state == ST_OPEN && !st->local_eof &&
           st->tx_credit > 0 && s->tx_credit > 0 && !s->out_blocked;
}

static void stream_update_read(struct vx_stream *st)
{
    struct session *s = st->sess;
    if (st->attached) {
        if (st->want_writable && stream_can_write(st))
            stream_kick(st);
        return;
    }
    int want = s && s->state == SS_OPEN && st->state == ST_OPEN && st->spliced && !st->local_eof &&
               st->tx_credit > 0 && s->tx_credit > 0 && !s->out_blocked;
    if (want) {
        ev_io_start(st->t->loop, &st->rw);
        /* Early data is sent from the read callback whether fd is readable
         * or not. */
        if (st->tbuf)
            ev_feed_event(st->t->loop, &st->rw, EV_READ);
    } else {
        ev_io_stop(st->t->loop, &st->rw);
    }
}

static ssize_t fd_send(struct vx_stream *st, const uint8_t *p, size_t n)
{
    ssize_t w;
    do {
        w = st->is_sock ? send(st->fd, p, n, MSG_NOSIGNAL) : write(st->fd, p, n);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return w;
}

static void stream_peer_fin_apply(struct vx_stream *st)
{
    if (st->attached) {
        stream_kick(st);
        return;
    }
    if (!st->spliced || st->shut_done || !st->peer_fin)
        return;
    if (st->rbuf && vx_buf_len(st->rbuf) > 0)
        return;
    shutdown(st->fd, SHUT_WR);
    st->shut_done = 1;
    stream_check_done(st);
}

static void stream_local_broken(struct vx_stream *st)
{
    log_debug(LD_SESSION, "stream %u: local socket error: %s", st->sid, strerror(errno));
    stream_send(st, VX_FR_RESET, VX_RSN_CLOSED);
    stream_finish(st, VX_ERR_CLOSED);
}

static void stream_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_stream *st = w->data;
    size_t total = 0;
    const uint8_t *p;
    size_t n;

    while (st->rbuf && (n = vx_buf_peek(st->rbuf, &p)) > 0) {
        ssize_t wr = fd_send(st, p, n);
        if (wr < 0) {
            stream_local_broken(st);
            return;
        }
        if (wr == 0)
            break;
        vx_buf_drain(st->rbuf, (size_t)wr);
        total += (size_t)wr;
    }
    stream_consumed(st, total);
    if (!st->rbuf || vx_buf_len(st->rbuf) == 0) {
        ev_io_stop(loop, &st->ww);
        vx_buf_free(st->rbuf);
        st->rbuf = NULL;
        stream_peer_fin_apply(st);
    }
}

/* Records filled from one readable front socket before the session socket is
 * written: one write (and one wakeup of the peer) per batch, not per record. */
#define READ_BATCH 4

static void stream_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_stream *st = w->data;
    struct session *s = st->sess;
    int got = 0, eof = 0, err = 0;

    for (int i = 0; i < READ_BATCH; i++) {
        if (!s || s->state != SS_OPEN || (s->out_blocked && !got)) {
            stream_update_read(st);
            return;
        }
        int64_t avail = st->tx_credit < s->tx_credit ? st->tx_credit : s->tx_credit;
        if (avail <= 0 || s->out_len - s->out_off > OUT_HWM)
            break;
        if (s->rec_open && rec_room(s) < VX_FRAME_DATA_HDR_LEN + 4096 && rec_seal(s) < 0) {
            sess_kill(s, VX_ERR_LIMIT, "nonce space exhausted");
            return;
        }
        rec_begin(s);
        size_t room = rec_room(s) - VX_FRAME_DATA_HDR_LEN;
        if ((uint64_t)avail > room)
            avail = (int64_t)room;
        uint8_t *hdr = s->out + s->out_len;
        ssize_t n;
        if (st->tbuf) {
            n = (ssize_t)vx_buf_copyout(st->tbuf, hdr + VX_FRAME_DATA_HDR_LEN, (size_t)avail);
            vx_buf_drain(st->tbuf, (size_t)n);
            if (vx_buf_len(st->tbuf) == 0) {
                vx_buf_free(st->tbuf);
                st->tbuf = NULL;
            }
        } else {
            do {
                n = read(st->fd, hdr + VX_FRAME_DATA_HDR_LEN, (size_t)avail);
            } while (n < 0 && errno == EINTR);
        }
        if (n == 0) {
            eof = 1;
            break;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                err = errno;
            break;
        }
        vx_frame_data_hdr(hdr, st->sid, (uint16_t)n);
        s->out_len += VX_FRAME_DATA_HDR_LEN + (size_t)n;
        st->tx_credit -= n;
        s->tx_credit -= n;
        s->bytes_out += (uint64_t)n;
        st->t->st.bytes_out += (uint64_t)n;
        got = 1;
        if (n < avail)
            break; /* drained */
        /* Full: seal it so that the next read starts a fresh record. */
        if (rec_seal(s) < 0) {
            sess_kill(s, VX_ERR_LIMIT, "nonce space exhausted");
            return;
        }
    }
    if (got) {
        sess_flush(s);
        if (st->state != ST_OPEN)
            return;
        if (!eof && !err)
            stream_update_read(st);
    }
    if (eof) {
        st->local_eof = 1;
        ev_io_stop(loop, &st->rw);
        stream_send(st, VX_FR_FIN, 0);
        stream_check_done(st);
    } else if (err) {
        errno = err;
        stream_local_broken(st);
    } else if (!got) {
        stream_update_read(st);
    }
}

static struct vx_stream *stream_new(struct vx_transport *t, struct session *s, uint32_t sid)
{
    struct vx_stream *st = xcalloc(1, sizeof(*st));
    vx_stream_base_init(&st->base, &tcp_stream_ops, t);
    st->t = t;
    st->sess = s;
    st->sid = sid;
    st->fd = -1;
    ev_io_init(&st->rw, stream_read_cb, -1, EV_READ);
    ev_io_init(&st->ww, stream_write_cb, -1, EV_WRITE);
    st->rw.data = st->ww.data = st;
    st->rx_left = t->conf.stream_window;
    if (s->state == SS_OPEN) {
        st->tx_credit = s->peer_hello.stream_window;
        memcpy(st->peer_id, s->peer_id, VX_NODE_ID_LEN);
    } else if (s->have_expected) {
        memcpy(st->peer_id, s->expected_id, VX_NODE_ID_LEN);
    }
    st->prev = s->streams_tail;
    if (s->streams_tail)
        s->streams_tail->next = st;
    else
        s->streams = st;
    s->streams_tail = st;
    s->nstreams++;
    tab_insert(s, st);
    t->st.streams++;
    t->st.streams_total++;
    return st;
}

static void open_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void stream_send_open(struct vx_stream *st)
{
    struct vx_frame f = {.type = VX_FR_STREAM_OPEN, .sid = st->sid};
    f.target.kind = st->target->kind;
    f.target.port = st->target->port;
    memcpy(f.target.name, st->target->name, sizeof(f.target.name));
    f.target.data_len = st->target->data_len;
    memcpy(f.target.data, st->target->data, st->target->data_len);
    free(st->target);
    st->target = NULL;
    st->open_sent = 1;
    st->state = ST_OPENING;
    sess_frame(st->sess, &f);
}

/* ---------------------------------------------------------------------- */
/* frames */

static void id_short(const uint8_t id[VX_NODE_ID_LEN], char out[16])
{
    char full[VX_NODE_ID_STRLEN + 1];
    if (vx_node_id_to_str(id, full, sizeof(full)) < 0)
        full[0] = 0;
    memcpy(out, full, 12);
    out[12] = 0;
}

static void on_stream_open(struct session *s, const struct vx_frame *f)
{
    struct vx_transport *t = s->t;
    uint32_t want_parity = s->initiator ? 0 : 1;
    if ((f->sid & 1) != want_parity || f->sid <= s->peer_last_sid) {
        log_warn_rl(LD_SESSION, "session: peer opened stream %u out of order", f->sid);
        sess_kill(s, VX_ERR_PROTO, "bad stream id");
        return;
    }
    s->peer_last_sid = f->sid;
    uint16_t refuse = VX_RSN_NONE;
    if (s->goaway_sent)
        refuse = VX_RSN_CLOSED;
    else if (s->nstreams >= t->conf.max_streams) {
        refuse = VX_RSN_LIMIT;
        t->st.limit_streams++;
    } else if (!t->base.accept_fn)
        refuse = VX_RSN_REFUSED;
    if (refuse != VX_RSN_NONE) {
        struct vx_frame r = {.type = VX_FR_OPEN_FAIL, .sid = f->sid, .reason = refuse};
        sess_frame(s, &r);
        return;
    }
    struct vx_stream *st = stream_new(t, s, f->sid);
    st->state = ST_ACCEPTING;
    ev_timer_init(&st->open_timer, open_timer_cb, t->conf.handshake_timeout_ms / 1000.0, 0);
    st->open_timer.data = st;
    ev_timer_start(t->loop, &st->open_timer);

    struct vx_stream_target tgt;
    tgt.kind = f->target.kind;
    tgt.port = f->target.port;
    memcpy(tgt.name, f->target.name, sizeof(tgt.name));
    tgt.data_len = f->target.data_len;
    memcpy(tgt.data, f->target.data, f->target.data_len);
    t->base.accept_fn(st, &tgt, t->base.accept_arg);
}

static void on_open_ok(struct session *s, struct vx_stream *st)
{
    if (!st)
        return; /* we gave up on it already */
    if (!st->opener || st->state != ST_OPENING) {
        sess_kill(s, VX_ERR_PROTO, "unexpected OPEN_OK");
        return;
    }
    ev_timer_stop(s->t->loop, &st->open_timer);
    st->state = ST_OPEN;
    if (!s->t->freeing && st->cbs.on_open)
        st->cbs.on_open(st, 0, st->arg);
}

static void stream_buffer(struct session *s, struct vx_stream *st, const uint8_t *p, size_t n);
static void pend_flush(struct session *s);

static void on_data(struct session *s, const struct vx_frame *f)
{
    if (f->data_len > s->rx_left) {
        log_warn_rl(LD_SESSION, "session: peer overran the session window");
        sess_kill(s, VX_ERR_PROTO, "session window overrun");
        return;
    }
    s->rx_left -= f->data_len;
    struct vx_stream *st = tab_find(s, f->sid);
    if (!st) {
        sess_consumed(s, f->data_len); /* a stream we reset: drop */
        return;
    }
    if (st->state != ST_OPEN || st->peer_fin || f->data_len > st->rx_left) {
        log_warn_rl(LD_SESSION, "session: bad DATA on stream %u", f->sid);
        sess_kill(s, VX_ERR_PROTO, "stream flow control or state violated");
        return;
    }
    st->rx_left -= f->data_len;
    s->bytes_in += f->data_len;
    s->t->st.bytes_in += f->data_len;

    const uint8_t *p = f->data;
    size_t n = f->data_len;
    if (st->attached && !st->paused && (!st->rbuf || vx_buf_len(st->rbuf) == 0)) {
        size_t c = st->io.on_data(st, p, n, st->io_arg);
        if (c > n)
            c = n;
        if (st->state != ST_OPEN) {
            sess_consumed(s, n); /* closed from the callback: drop the rest */
            return;
        }
        stream_consumed(st, c);
        p += c;
        n -= c;
        if (n == 0)
            return;
        st->paused = 1;
    }
    if (st->spliced && (!st->rbuf || vx_buf_len(st->rbuf) == 0)) {
        /* Gathered: written by pend_flush() after this read's records. */
        if (s->pend_st != st || s->pend_n == PEND_MAX)
            pend_flush(s);
        s->pend_st = st;
        s->pend_iov[s->pend_n].iov_base = (void *)(uintptr_t)p;
        s->pend_iov[s->pend_n].iov_len = n;
        s->pend_n++;
        s->pend_len += n;
        return;
    }
    stream_buffer(s, st, p, n);
}

/* Keep n bytes the local socket did not take; written when it is writable. */
static void stream_buffer(struct session *s, struct vx_stream *st, const uint8_t *p, size_t n)
{
    if (!st->rbuf)
        st->rbuf = vx_buf_new(s->t->conf.stream_window);
    if (vx_buf_add(st->rbuf, p, n) < 0) {
        log_err(LD_SESSION, "stream %u: receive buffer over its window", st->sid);
        sess_consumed(s, n);
        stream_send(st, VX_FR_RESET, VX_RSN_INTERNAL);
        stream_finish(st, VX_ERR_INTERNAL);
        return;
    }
    if (st->spliced)
        ev_io_start(s->t->loop, &st->ww);
}

/* Write the gathered DATA of s->pend_st with one sendmsg/writev; what the
 * socket does not take goes to the stream's buffer.  Must run before any
 * other frame for the stream is handled and before `in` is reused. */
static void pend_flush(struct session *s)
{
    struct vx_stream *st = s->pend_st;
    int cnt = s->pend_n;
    size_t len = s->pend_len;

    s->pend_st = NULL;
    s->pend_n = 0;
    s->pend_len = 0;
    if (!st || cnt == 0 || s->state != SS_OPEN)
        return;
    if (st->state != ST_OPEN) {
        sess_consumed(s, len);
        return;
    }
    ssize_t w;
    do {
        if (st->is_sock) {
            struct msghdr mh = {.msg_iov = s->pend_iov, .msg_iovlen = (size_t)cnt};
            w = sendmsg(st->fd, &mh, MSG_NOSIGNAL);
        } else {
            w = writev(st->fd, s->pend_iov, cnt);
        }
    } while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        w = 0;
    if (w < 0) {
        sess_consumed(s, len);
        stream_local_broken(st);
        return;
    }
    stream_consumed(st, (size_t)w);
    size_t skip = (size_t)w;
    for (int i = 0; i < cnt && st->state == ST_OPEN; i++) {
        const uint8_t *p = s->pend_iov[i].iov_base;
        size_t n = s->pend_iov[i].iov_len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        stream_buffer(s, st, p + skip, n - skip);
        skip = 0;
    }
}

static void on_reset(struct session *s, struct vx_stream *st, uint16_t reason)
{
    int err = reason == VX_RSN_NONE ? VX_ERR_RESET : vx_wire_reason_to_err(reason);
    if (!st)
        return;
    switch (st->state) {
    case ST_WAIT_SESSION:
    case ST_OPENING:
        stream_fail_open(st, err);
        break;
    case ST_ACCEPTING:
        ev_timer_stop(s->t->loop, &st->open_timer);
        stream_orphan(st);
        break;
    case ST_OPEN:
        stream_finish(st, VX_ERR_RESET);
        break;
    default:
        break;
    }
}

static void on_window(struct session *s, const struct vx_frame *f)
{
    if (f->sid == 0) {
        int was = s->tx_credit > 0;
        s->tx_credit += f->incr;
        if (s->tx_credit > (int64_t)1 << 40) {
            sess_kill(s, VX_ERR_PROTO, "session window overflow");
            return;
        }
        if (!was && s->tx_credit > 0)
            for (struct vx_stream *st = s->streams; st; st = st->next)
                stream_update_read(st);
        return;
    }
    struct vx_stream *st = tab_find(s, f->sid);
    if (!st)
        return;
    st->tx_credit += f->incr;
    if (st->tx_credit > (int64_t)1 << 40) {
        sess_kill(s, VX_ERR_PROTO, "stream window overflow");
        return;
    }
    stream_update_read(st);
}

static void on_goaway(struct session *s, const struct vx_frame *f)
{
    char idb[16];
    id_short(s->peer_id, idb);
    log_info(LD_SESSION, "session with %s: peer is going away (%s)", idb,
             vx_strerror(vx_wire_reason_to_err(f->reason)));
    s->going_away = 1;
    struct vx_stream *next;
    for (struct vx_stream *st = s->streams; st; st = next) {
        next = st->next;
        if (st->opener && st->state == ST_OPENING && st->sid > f->sid)
            stream_fail_open(st, VX_ERR_CLOSED);
    }
}

static void handle_frame(struct session *s, const struct vx_frame *f)
{
    struct vx_frame r;
    switch (f->type) {
    case VX_FR_STREAM_OPEN:
        on_stream_open(s, f);
        break;
    case VX_FR_OPEN_OK:
        on_open_ok(s, tab_find(s, f->sid));
        break;
    case VX_FR_OPEN_FAIL: {
        struct vx_stream *st = tab_find(s, f->sid);
        if (st && st->opener && st->state == ST_OPENING)
            stream_fail_open(st, f->reason == VX_RSN_NONE ? VX_ERR_REFUSED
                                                          : vx_wire_reason_to_err(f->reason));
        break;
    }
    case VX_FR_DATA:
        on_data(s, f);
        break;
    case VX_FR_FIN: {
        struct vx_stream *st = tab_find(s, f->sid);
        if (!st)
            break;
        if (st->state != ST_OPEN || st->peer_fin) {
            sess_kill(s, VX_ERR_PROTO, "unexpected FIN");
            break;
        }
        st->peer_fin = 1;
        stream_peer_fin_apply(st);
        break;
    }
    case VX_FR_RESET:
        on_reset(s, tab_find(s, f->sid), f->reason);
        break;
    case VX_FR_WINDOW_UPDATE:
        on_window(s, f);
        break;
    case VX_FR_PING:
        r = (struct vx_frame){.type = VX_FR_PONG};
        memcpy(r.opaque, f->opaque, sizeof(r.opaque));
        sess_frame(s, &r);
        break;
    case VX_FR_PONG: {
        struct vx_rcur c;
        uint64_t sent = 0, now = vx_time_mono_ms();
        vx_rcur_init(&c, f->opaque, sizeof(f->opaque));
        vx_rcur_u64(&c, &sent);
        if (sent <= now && now - sent < 3600000)
            s->rtt_ms = (uint32_t)(now - sent);
        break;
    }
    case VX_FR_GOAWAY:
        on_goaway(s, f);
        break;
    default:
        break;
    }
}

static void rec_process(struct session *s)
{
    struct vx_transport *t = s->t;
    struct vx_frame f;

    while (s->state == SS_OPEN) {
        uint8_t *p = s->in + s->in_off;
        size_t avail = s->in_len - s->in_off, ct = 0;
        if (avail < VX_REC_HDR_LEN)
            return;
        int r = vx_wire_rec_hdr_decode(p, avail, &ct);
        if (r < 0) {
            log_warn_rl(LD_SESSION, "session: malformed record header: %s", vx_strerror(r));
            sess_kill(s, VX_ERR_PROTO, "malformed record header");
            return;
        }
        if (avail < VX_REC_HDR_LEN + ct)
            return;
        r = vx_chan_open(s->rx, p + VX_REC_HDR_LEN, ct, p, VX_REC_HDR_LEN);
        if (r < 0) {
            log_warn_rl(LD_SESSION, "session: a record failed authentication (tampered, "
                                    "replayed or reordered); closing the session");
            sess_kill(s, VX_ERR_CRYPTO, "record authentication failed");
            return;
        }
        s->in_off += VX_REC_HDR_LEN + ct;
        s->last_rx_ms = vx_time_mono_ms();
        t->ctr.records_in++;

        const uint8_t *plain = p + VX_REC_HDR_LEN;
        size_t plen = ct - VX_REC_TAG_LEN, off = 0, used = 0;
        int rekey = 0;
        while (off < plen && s->state == SS_OPEN) {
            if (rekey) {
                sess_kill(s, VX_ERR_PROTO, "frame after REKEY");
                return;
            }
            r = vx_frame_decode(plain + off, plen - off, &f, &used);
            if (r < 0) {
                log_warn_rl(LD_SESSION, "session: malformed frame: %s", vx_strerror(r));
                sess_kill(s, VX_ERR_PROTO, "malformed frame");
                return;
            }
            off += used;
            if (f.type != VX_FR_DATA)
                pend_flush(s); /* keeps DATA before a FIN, RESET... */
            if (f.type == VX_FR_REKEY)
                rekey = 1;
            else
                handle_frame(s, &f);
        }
        if (rekey && s->state == SS_OPEN) {
            vx_chan_rekey(s->rx);
            t->ctr.rekeys_rx++;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* session life */

static void sess_kill(struct session *s, int err, const char *why)
{
    struct vx_transport *t = s->t;
    char idb[16];

    if (s->state == SS_DEAD)
        return;
    int was_open = s->state == SS_OPEN;
    if (was_open) {
        id_short(s->peer_id, idb);
        if (t->freeing || err == VX_ERR_CLOSED)
            log_debug(LD_SESSION, "session with %s closed: %s", idb, why);
        else
            log_info(LD_SESSION, "session with %s closed: %s (%s)", idb, why, vx_strerror(err));
        t->st.sessions--;
    } else {
        t->st.handshakes_failed++;
        if (!s->initiator && !t->freeing && s->addrlen)
            vx_transport_report_handshake_failure(t, (const struct sockaddr *)&s->addr, s->addrlen,
                                                  err);
        if (s->have_expected) {
            id_short(s->expected_id, idb);
            log_info(LD_SESSION, "session to %s failed: %s (%s)", idb, why, vx_strerror(err));
        } else {
            log_info(LD_SESSION, "session %s failed: %s (%s)",
                     s->initiator ? "we dialled" : "from a peer", why, vx_strerror(err));
        }
    }
    s->state = SS_DEAD;
    ev_io_stop(t->loop, &s->rw);
    ev_io_stop(t->loop, &s->ww);
    ev_timer_stop(t->loop, &s->hs_timer);
    ev_timer_stop(t->loop, &s->tick);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        t->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    t->nsessions--;

    while (s->streams) {
        struct vx_stream *st = s->streams;
        switch (st->state) {
        case ST_WAIT_SESSION:
        case ST_OPENING:
            stream_fail_open(st, err);
            break;
        case ST_ACCEPTING:
            stream_orphan(st);
            break;
        default:
            stream_finish(st, err);
            break;
        }
    }
    s->reap_next = t->reap_sessions;
    t->reap_sessions = s;
}

static void sess_free(struct session *s)
{
    vx_noise_free(s->noise);
    vx_chan_free(s->tx);
    vx_chan_free(s->rx);
    free(s->in);
    free(s->out);
    free(s->tab);
    free(s);
}

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct vx_transport *t = w->data;
    while (t->reap_streams) {
        struct vx_stream *st = t->reap_streams;
        t->reap_streams = st->reap_next;
        free(st);
    }
    while (t->reap_sessions) {
        struct session *s = t->reap_sessions;
        t->reap_sessions = s->reap_next;
        sess_free(s);
    }
}

static int key_lookup(const struct vx_transport *t, const uint8_t id[VX_NODE_ID_LEN],
                      uint8_t pk[VX_PK_LEN])
{
    for (const struct known_key *k = t->keys; k; k = k->next) {
        if (memcmp(k->id, id, VX_NODE_ID_LEN) == 0) {
            memcpy(pk, k->pk, VX_PK_LEN);
            return 1;
        }
    }
    return 0;
}

int vx_transport_learn_key(struct vx_transport *t, const uint8_t pk[VX_PK_LEN])
{
    uint8_t x[VX_X25519_LEN], id[VX_NODE_ID_LEN];
    if (vx_pk_to_x25519(pk, x) < 0)
        return VX_ERR_CRYPTO;
    vx_node_id_from_pk(pk, id);
    for (struct known_key *k = t->keys; k; k = k->next) {
        if (memcmp(k->id, id, VX_NODE_ID_LEN) == 0)
            return 0;
    }
    struct known_key *k = xcalloc(1, sizeof(*k));
    memcpy(k->id, id, VX_NODE_ID_LEN);
    memcpy(k->pk, pk, VX_PK_LEN);
    k->next = t->keys;
    t->keys = k;
    return 0;
}

static void sess_established(struct session *s)
{
    struct vx_transport *t = s->t;
    char idb[16];
    int r;

    if ((r = vx_noise_remote_pk(s->noise, s->peer_pk)) < 0) {
        sess_kill(s, r, "no peer key after the handshake");
        return;
    }
    vx_node_id_from_pk(s->peer_pk, s->peer_id);
    if (s->have_expected && memcmp(s->peer_id, s->expected_id, VX_NODE_ID_LEN) != 0) {
        char got[16];
        id_short(s->expected_id, idb);
        id_short(s->peer_id, got);
        log_warn(LD_SESSION, "dialled node %s but node %s answered; dropping the session", idb,
                 got);
        sess_kill(s, VX_ERR_PEER_ID, "peer is not the expected node");
        return;
    }
    if ((r = vx_noise_split(s->noise, s->aead, &s->tx, &s->rx)) < 0) {
        sess_kill(s, r, "cannot derive session keys");
        return;
    }
    vx_noise_free(s->noise);
    s->noise = NULL;
    vx_transport_learn_key(t, s->peer_pk);
    if (s->pattern == VX_HS_IK)
        t->ctr.ik_handshakes++;
    else
        t->ctr.xx_handshakes++;

    uint64_t now = vx_time_mono_ms();
    s->state = SS_OPEN;
    s->established_ms = s->last_rx_ms = s->idle_since_ms = s->rekey_at_ms = now;
    s->tx_credit = s->peer_hello.session_window;
    s->rx_left = t->conf.session_window;
    ev_timer_stop(t->loop, &s->hs_timer);
    ev_timer_again(t->loop, &s->tick);
    t->st.sessions++;
    t->st.sessions_total++;
    id_short(s->peer_id, idb);
    log_info(LD_SESSION, "session with %s established (%s, %s, %s)", idb,
             s->initiator ? "outgoing" : "incoming", s->pattern == VX_HS_IK ? "IK" : "XX",
             vx_aead_name(s->aead));

    for (struct vx_stream *st = s->streams; st; st = st->next) {
        memcpy(st->peer_id, s->peer_id, VX_NODE_ID_LEN);
        st->tx_credit = s->peer_hello.stream_window;
        if (st->state == ST_WAIT_SESSION) {
            ev_timer_stop(t->loop, &st->open_timer);
            ev_timer_set(&st->open_timer, t->conf.handshake_timeout_ms / 1000.0, 0);
            ev_timer_start(t->loop, &st->open_timer);
            stream_send_open(st);
        }
    }
    sess_mark_dirty(s);
}

static size_t hello_fill(const struct vx_transport *t, struct vx_wire_hello *h)
{
    memset(h, 0, sizeof(*h));
    if ((t->aead_mask & (1u << VX_AEAD_AESGCM)) && vx_aead_aesgcm_available())
        h->aead[h->n_aead++] = VX_AEAD_AESGCM;
    if (t->aead_mask & (1u << VX_AEAD_CHACHAPOLY))
        h->aead[h->n_aead++] = VX_AEAD_CHACHAPOLY;
    h->stream_window = t->conf.stream_window;
    h->session_window = t->conf.session_window;
    h->max_streams = t->conf.max_streams;
    return h->n_aead;
}

static int hs_send(struct session *s, const uint8_t *payload, size_t plen)
{
    size_t hdr = (s->initiator && !s->hs_first_done) ? VX_HS_FIRST_HDR_LEN : VX_HS_HDR_LEN;
    size_t mlen = 0;
    out_reserve(s, hdr + VX_NOISE_MAX_MSG);
    uint8_t *p = s->out + s->out_len;
    int r = vx_noise_write(s->noise, payload, plen, p + hdr, VX_NOISE_MAX_MSG, &mlen);
    if (r < 0)
        return r;
    if (hdr == VX_HS_FIRST_HDR_LEN) {
        r = vx_wire_hs_first_encode(p, s->pattern, mlen);
        s->hs_first_done = 1;
    } else {
        r = vx_wire_hs_encode(p, mlen);
    }
    if (r < 0)
        return r;
    s->out_len += hdr + mlen;
    sess_write(s);
    return 0;
}

static int hello_ok(const struct vx_wire_hello *h)
{
    return h->stream_window >= MIN_WINDOW && h->session_window >= MIN_WINDOW && h->max_streams >= 1;
}

/* Our payload for the next handshake message. */
static int hs_payload(struct session *s, uint8_t *buf, size_t *len)
{
    struct vx_wire_hello h;
    *len = 0;
    if (s->initiator && !s->hs_first_done) {
        hello_fill(s->t, &h);
        return vx_wire_hello_encode(&h, buf, VX_HELLO_MAX_LEN, len);
    }
    if (!s->initiator && !s->hs_first_done) {
        /* responder's first message: the chosen cipher */
        hello_fill(s->t, &h);
        h.n_aead = 1;
        h.aead[0] = (uint8_t)s->aead;
        s->hs_first_done = 1;
        return vx_wire_hello_encode(&h, buf, VX_HELLO_MAX_LEN, len);
    }
    return 0; /* XX third message: nothing */
}

static int hs_on_payload(struct session *s, const uint8_t *p, size_t n, int first_from_peer)
{
    struct vx_wire_hello h;
    struct vx_transport *t = s->t;
    if (!first_from_peer)
        return n == 0 ? 0 : VX_ERR_PROTO;
    int r = vx_wire_hello_decode(p, n, &h);
    if (r < 0)
        return r;
    if (!hello_ok(&h))
        return VX_ERR_PROTO;
    s->peer_hello = h;
    int can_gcm = (t->aead_mask & (1u << VX_AEAD_AESGCM)) && vx_aead_aesgcm_available();
    int can_cc = (t->aead_mask & (1u << VX_AEAD_CHACHAPOLY)) != 0;
    if (!s->initiator) {
        int has_gcm = 0, has_cc = 0;
        for (unsigned i = 0; i < h.n_aead; i++) {
            has_gcm |= h.aead[i] == VX_AEAD_AESGCM;
            has_cc |= h.aead[i] == VX_AEAD_CHACHAPOLY;
        }
        if (has_gcm && can_gcm)
            s->aead = VX_AEAD_AESGCM;
        else if (has_cc && can_cc)
            s->aead = VX_AEAD_CHACHAPOLY;
        else
            return VX_ERR_PROTO;
        return 0;
    }
    if (h.n_aead != 1 ||
        !((h.aead[0] == VX_AEAD_AESGCM && can_gcm) || (h.aead[0] == VX_AEAD_CHACHAPOLY && can_cc)))
        return VX_ERR_PROTO;
    s->aead = h.aead[0];
    return 0;
}

static void hs_process(struct session *s)
{
    struct vx_transport *t = s->t;
    uint8_t payload[512], mine[VX_HELLO_MAX_LEN];
    size_t mlen = 0, hdr, plen = 0;
    int r;

    while (s->state == SS_HANDSHAKE) {
        uint8_t *p = s->in + s->in_off;
        size_t avail = s->in_len - s->in_off;
        int responder_first = !s->initiator && !s->noise;
        uint8_t pat = 0;
        if (responder_first) {
            hdr = VX_HS_FIRST_HDR_LEN;
            r = vx_wire_hs_first_decode(p, avail, &pat, &mlen);
        } else {
            hdr = VX_HS_HDR_LEN;
            r = vx_wire_hs_decode(p, avail, &mlen);
        }
        if (r == VX_ERR_TRUNC)
            return;
        if (r < 0) {
            log_warn_rl(LD_SESSION, "session: malformed handshake message: %s", vx_strerror(r));
            sess_kill(s, r, "malformed handshake message");
            return;
        }
        if (avail < hdr + mlen)
            return;
        if (responder_first) {
            s->pattern = pat;
            s->noise = vx_noise_new(0, pat == VX_HS_IK ? VX_NOISE_IK : VX_NOISE_XX, &t->id, NULL,
                                    (const uint8_t *)PROLOGUE, strlen(PROLOGUE));
        }
        if (vx_noise_want_write(s->noise)) {
            sess_kill(s, VX_ERR_PROTO, "handshake message out of turn");
            return;
        }
        int first_from_peer = !s->peer_hello.n_aead;
        r = vx_noise_read(s->noise, p + hdr, mlen, payload, sizeof(payload), &plen);
        if (r < 0) {
            log_warn_rl(LD_SESSION, "session: handshake failed: %s", vx_strerror(r));
            sess_kill(s, r, "handshake message rejected");
            return;
        }
        s->in_off += hdr + mlen;
        if ((r = hs_on_payload(s, payload, plen, first_from_peer)) < 0) {
            sess_kill(s, r, "unacceptable handshake parameters (no common cipher?)");
            return;
        }
        if (vx_noise_want_write(s->noise)) {
            size_t ml = 0;
            if ((r = hs_payload(s, mine, &ml)) < 0 || (r = hs_send(s, mine, ml)) < 0) {
                sess_kill(s, r, "cannot write handshake message");
                return;
            }
            if (s->state == SS_DEAD)
                return;
        }
        if (vx_noise_done(s->noise)) {
            sess_established(s);
            return;
        }
    }
}

static void hs_start(struct session *s)
{
    struct vx_transport *t = s->t;
    uint8_t pk[VX_PK_LEN], mine[VX_HELLO_MAX_LEN];
    size_t ml = 0;
    int ik = s->have_expected && key_lookup(t, s->expected_id, pk);
    int r;

    s->state = SS_HANDSHAKE;
    s->pattern = ik ? VX_HS_IK : VX_HS_XX;
    s->noise = vx_noise_new(1, ik ? VX_NOISE_IK : VX_NOISE_XX, &t->id, ik ? pk : NULL,
                            (const uint8_t *)PROLOGUE, strlen(PROLOGUE));
    ev_io_start(t->loop, &s->rw);
    if ((r = hs_payload(s, mine, &ml)) < 0 || (r = hs_send(s, mine, ml)) < 0)
        sess_kill(s, r, "cannot write handshake message");
}

static void sess_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct session *s = w->data;
    ssize_t n;

    do {
        n = read(s->fd, s->in + s->in_len, IN_CAP - s->in_len);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        sess_kill(s, s->state == SS_OPEN ? VX_ERR_CLOSED : VX_ERR_UNREACH,
                  "peer closed the connection");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        int e = errno;
        sess_kill(s, s->state == SS_OPEN ? VX_ERR_CLOSED : VX_ERR_UNREACH, strerror(e));
        return;
    }
    s->in_len += (size_t)n;
    if (s->state == SS_HANDSHAKE)
        hs_process(s);
    if (s->state == SS_OPEN) {
        rec_process(s);
        pend_flush(s);
    }
    if (s->state == SS_DEAD)
        return;
    if (s->in_off == s->in_len) {
        s->in_off = s->in_len = 0;
    } else if (IN_CAP - s->in_len < VX_REC_MAX_WIRE) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
}

static void sess_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct session *s = w->data;
    if (s->state == SS_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof(e);
        ev_io_stop(loop, &s->ww);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
            e = errno;
        if (e) {
            sess_kill(s, VX_ERR_UNREACH, strerror(e));
            return;
        }
        hs_start(s);
        return;
    }
    sess_write(s);
}

static void hs_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct session *s = w->data;
    if (s->fail_err)
        sess_kill(s, s->fail_err, "cannot connect");
    else
        sess_kill(s, VX_ERR_TIMEOUT, "handshake timed out");
}

static void sess_goaway(struct session *s, uint16_t reason)
{
    struct vx_frame f = {.type = VX_FR_GOAWAY, .sid = s->peer_last_sid, .reason = reason};
    if (s->state != SS_OPEN || s->goaway_sent)
        return;
    s->goaway_sent = 1;
    sess_frame(s, &f);
    sess_flush(s);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct session *s = w->data;
    const struct vx_transport_conf *c = &s->t->conf;
    uint64_t now = vx_time_mono_ms();

    if (now - s->last_rx_ms >= c->dead_peer_ms) {
        sess_kill(s, VX_ERR_TIMEOUT, "peer stopped responding");
        return;
    }
    if (s->nstreams == 0 &&
        (s->going_away || (c->idle_session_ms && now - s->idle_since_ms >= c->idle_session_ms))) {
        sess_goaway(s, VX_RSN_NONE);
        sess_kill(s, VX_ERR_CLOSED, "idle");
        return;
    }
    if (now - s->last_rx_ms >= c->keepalive_ms && now - s->ping_sent_ms >= c->keepalive_ms) {
        struct vx_frame f = {.type = VX_FR_PING};
        struct vx_wcur wc;
        vx_wcur_init(&wc, f.opaque, sizeof(f.opaque));
        vx_wcur_u64(&wc, now);
        s->ping_sent_ms = now;
        sess_frame(s, &f);
    }
    if (c->rekey_seconds && now - s->rekey_at_ms >= (uint64_t)c->rekey_seconds * 1000) {
        s->rekey_due = 1;
        rec_begin(s);
        sess_mark_dirty(s);
        s->rekey_at_ms = now; /* rec_seal resets it too */
    }
}

static void set_sockopts(int fd)
{
    int one = 1, big = SOCK_BUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

static struct session *sess_new(struct vx_transport *t, int fd, int initiator)
{
    struct session *s = xcalloc(1, sizeof(*s));
    const struct vx_transport_conf *c = &t->conf;
    s->t = t;
    s->fd = fd;
    s->initiator = initiator;
    s->next_sid = initiator ? 1 : 2;
    s->in = xmalloc(IN_CAP);
    s->out_cap = OUT_HWM + 2 * VX_REC_MAX_WIRE;
    s->out = xmalloc(s->out_cap);
    ev_io_init(&s->rw, sess_read_cb, fd, EV_READ);
    ev_io_init(&s->ww, sess_write_cb, fd, EV_WRITE);
    ev_timer_init(&s->hs_timer, hs_timer_cb, c->handshake_timeout_ms / 1000.0, 0);
    double iv = c->keepalive_ms;
    if (c->dead_peer_ms / 4.0 < iv)
        iv = c->dead_peer_ms / 4.0;
    if (c->idle_session_ms && c->idle_session_ms / 2.0 < iv)
        iv = c->idle_session_ms / 2.0;
    if (iv < 5)
        iv = 5;
    ev_init(&s->tick, tick_cb);
    s->tick.repeat = iv / 1000.0;
    s->rw.data = s->ww.data = s->hs_timer.data = s->tick.data = s;
    s->next = t->sessions;
    if (t->sessions)
        t->sessions->prev = s;
    t->sessions = s;
    t->nsessions++;
    set_sockopts(fd);
    ev_timer_start(t->loop, &s->hs_timer);
    return s;
}

static void listener_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct listener *l = w->data;
    struct vx_transport *t = l->t;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn_rl(LD_NET, "transport: accept failed: %s", strerror(errno));
            return;
        }
        if (t->nsessions >= t->conf.max_sessions) {
            log_warn_rl(LD_SESSION, "transport: session limit (%u) reached; refusing a peer",
                        t->conf.max_sessions);
            t->st.handshakes_failed++;
            t->st.limit_sessions++;
            close(fd);
            continue;
        }
        struct session *s = sess_new(t, fd, 0);
        memcpy(&s->addr, &ss, sl);
        s->addrlen = sl;
        s->state = SS_HANDSHAKE;
        ev_io_start(loop, &s->rw);
    }
}

/* ---------------------------------------------------------------------- */
/* public API */

struct vx_transport *vx_transport_tcp_new(struct ev_loop *loop, const struct vx_identity *id,
                                          const struct vx_transport_conf *conf)
{
    struct vx_transport *t = xcalloc(1, sizeof(*t));
    struct vx_transport_conf d;
    vx_transport_conf_defaults(&d);
    vx_transport_base_init(&t->base, &tcp_ops, VX_TRANSPORT_TCP, loop);
    t->loop = loop;
    t->id = *id;
    t->conf = conf ? *conf : d;
#define DEFAULT_IF_ZERO(f)                                                                         \
    if (!t->conf.f)                                                                                \
        t->conf.f = d.f;
    DEFAULT_IF_ZERO(handshake_timeout_ms);
    DEFAULT_IF_ZERO(keepalive_ms);
    DEFAULT_IF_ZERO(dead_peer_ms);
    DEFAULT_IF_ZERO(stream_window);
    DEFAULT_IF_ZERO(session_window);
    DEFAULT_IF_ZERO(max_streams);
    DEFAULT_IF_ZERO(max_sessions);
    DEFAULT_IF_ZERO(max_isolated);
#undef DEFAULT_IF_ZERO
    if (t->conf.stream_window < MIN_WINDOW)
        t->conf.stream_window = MIN_WINDOW;
    if (t->conf.session_window < MIN_WINDOW)
        t->conf.session_window = MIN_WINDOW;
    t->aead_mask = VX_AEAD_MASK_ALL;
    ev_check_init(&t->reap_w, reap_cb);
    ev_prepare_init(&t->flush_w, flush_cb);
    t->reap_w.data = t->flush_w.data = t;
    ev_check_start(loop, &t->reap_w);
    ev_unref(loop);
    ev_prepare_start(loop, &t->flush_w);
    ev_unref(loop);
    return t;
}

static void tcp_free(struct vx_transport *t)
{
    if (!t)
        return;
    t->freeing = 1;
    while (t->sessions) {
        struct session *s = t->sessions;
        sess_goaway(s, VX_RSN_CLOSED);
        sess_kill(s, VX_ERR_CLOSED, "transport shutting down");
    }
    while (t->listeners) {
        struct listener *l = t->listeners;
        t->listeners = l->next;
        ev_io_stop(t->loop, &l->w);
        close(l->fd);
        free(l);
    }
    while (t->orphans) {
        struct vx_stream *st = t->orphans;
        t->orphans = st->reap_next;
        free(st);
    }
    reap_cb(t->loop, &t->reap_w, 0);
    while (t->keys) {
        struct known_key *k = t->keys;
        t->keys = k->next;
        free(k);
    }
    ev_ref(t->loop);
    ev_check_stop(t->loop, &t->reap_w);
    ev_ref(t->loop);
    ev_prepare_stop(t->loop, &t->flush_w);
    vx_identity_wipe(&t->id);
    free(t);
}

int vx_transport_tcp_set_aeads(struct vx_transport *t, unsigned mask)
{
    mask &= VX_AEAD_MASK_ALL;
    if (!(mask & (1u << VX_AEAD_CHACHAPOLY)) && !vx_aead_aesgcm_available())
        return VX_ERR_INVAL;
    if (!mask)
        return VX_ERR_INVAL;
    t->aead_mask = mask;
    return 0;
}

void vx_transport_tcp_counters(const struct vx_transport *t, struct vx_tcp_counters *c)
{
    *c = t->ctr;
}

static int tcp_listen(struct vx_transport *t, const struct sockaddr *sa, socklen_t salen)
{
    int one = 1;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, sa, salen) < 0 || listen(fd, 256) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return VX_ERR_SYS;
    }
    struct listener *l = xcalloc(1, sizeof(*l));
    l->t = t;
    l->fd = fd;
    ev_io_init(&l->w, listener_cb, fd, EV_READ);
    l->w.data = l;
    ev_io_start(t->loop, &l->w);
    l->next = t->listeners;
    t->listeners = l;
    return 0;
}

int vx_transport_tcp_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                                socklen_t *len)
{
    if (!t->listeners)
        return VX_ERR_NOTFOUND;
    *len = sizeof(*ss);
    if (getsockname(t->listeners->fd, (struct sockaddr *)ss, len) < 0)
        return VX_ERR_SYS;
    return 0;
}

static int addr_equal(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr *b,
                      socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Is s a session to peer_id (or, with no ID, dialled to addr)? */
static int sess_reaches(const struct session *s, const uint8_t *peer_id,
                        const struct sockaddr *addr, socklen_t addrlen)
{
    if (peer_id) {
        if (s->state == SS_OPEN)
            return memcmp(s->peer_id, peer_id, VX_NODE_ID_LEN) == 0;
        return s->have_expected && memcmp(s->expected_id, peer_id, VX_NODE_ID_LEN) == 0;
    }
    return s->initiator && addr && addr_equal(&s->addr, s->addrlen, addr, addrlen);
}

/* A usable session to the peer for isolation key iso. */
static struct session *find_session(struct vx_transport *t, const uint8_t *peer_id,
                                    const struct sockaddr *addr, socklen_t addrlen, uint64_t iso)
{
    for (struct session *s = t->sessions; s; s = s->next) {
        if (s->going_away || s->goaway_sent || s->iso != iso)
            continue;
        if (sess_reaches(s, peer_id, addr, addrlen))
            return s;
    }
    return NULL;
}

/* Isolated sessions to the peer, alive or still handshaking. */
static uint32_t count_isolated(struct vx_transport *t, const uint8_t *peer_id,
                               const struct sockaddr *addr, socklen_t addrlen)
{
    uint32_t n = 0;
    for (struct session *s = t->sessions; s; s = s->next)
        if (s->iso && s->state != SS_DEAD && sess_reaches(s, peer_id, addr, addrlen))
            n++;
    return n;
}

static struct session *sess_dial(struct vx_transport *t, const uint8_t *peer_id,
                                 const struct sockaddr *addr, socklen_t addrlen, int *err)
{
    if (addrlen > sizeof(struct sockaddr_storage)) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = VX_ERR_SYS;
        return NULL;
    }
    struct session *s = sess_new(t, fd, 1);
    memcpy(&s->addr, addr, addrlen);
    s->addrlen = addrlen;
    if (peer_id) {
        s->have_expected = 1;
        memcpy(s->expected_id, peer_id, VX_NODE_ID_LEN);
    }
    s->state = SS_CONNECTING;
    if (connect(fd, addr, addrlen) == 0) {
        hs_start(s);
    } else if (errno == EINPROGRESS) {
        ev_io_start(t->loop, &s->ww);
    } else {
        /* Report through on_open, after the caller has the stream. */
        log_debug(LD_NET, "transport: connect failed: %s", strerror(errno));
        s->fail_err = VX_ERR_UNREACH;
        ev_timer_stop(t->loop, &s->hs_timer);
        ev_timer_set(&s->hs_timer, 0, 0);
        ev_timer_start(t->loop, &s->hs_timer);
    }
    return s;
}

static int target_ok(const struct vx_stream_target *tgt)
{
    return tgt->kind >= 1 && tgt->kind <= 3 && tgt->data_len <= VX_TARGET_DATA_MAX &&
           memchr(tgt->name, 0, sizeof(tgt->name)) != NULL;
}

static struct vx_stream *tcp_open(struct vx_transport *t, const uint8_t *peer_id,
                                  const struct sockaddr *addr, socklen_t addrlen,
                                  const struct vx_stream_target *tgt,
                                  const struct vx_stream_cbs *cbs, void *arg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!tgt || !cbs || !cbs->on_open || (!peer_id && !addr) || !target_ok(tgt)) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    struct session *s = find_session(t, peer_id, addr, addrlen, tgt->isolation);
    if (!s) {
        if (!addr) {
            *err = VX_ERR_UNREACH;
            return NULL;
        }
        if (t->nsessions >= t->conf.max_sessions) {
            t->st.limit_sessions++;
            *err = VX_ERR_LIMIT;
            return NULL;
        }
        if (tgt->isolation && count_isolated(t, peer_id, addr, addrlen) >= t->conf.max_isolated) {
            t->st.limit_isolated++;
            log_info(LD_SESSION,
                     "transport: %u isolated sessions to that peer already; "
                     "refusing another (limits.max_sessions_per_peer)",
                     t->conf.max_isolated);
            *err = VX_ERR_LIMIT;
            return NULL;
        }
        if (!(s = sess_dial(t, peer_id, addr, addrlen, err)))
            return NULL;
        s->iso = tgt->isolation;
    }
    uint32_t limit = t->conf.max_streams;
    if (s->state == SS_OPEN && s->peer_hello.max_streams < limit)
        limit = s->peer_hello.max_streams;
    if (s->nstreams >= limit || s->next_sid > 0x7ffffffe) {
        t->st.limit_streams++;
        *err = VX_ERR_LIMIT;
        return NULL;
    }
    struct vx_stream *st = stream_new(t, s, s->next_sid);
    s->next_sid += 2;
    st->opener = 1;
    st->cbs = *cbs;
    st->arg = arg;
    st->target = xmalloc(sizeof(*st->target));
    *st->target = *tgt;
    double tmo = t->conf.handshake_timeout_ms / 1000.0;
    ev_timer_init(&st->open_timer, open_timer_cb, s->state == SS_OPEN ? tmo : 2 * tmo, 0);
    st->open_timer.data = st;
    ev_timer_start(t->loop, &st->open_timer);
    if (s->state == SS_OPEN) {
        stream_send_open(st);
    } else {
        st->state = ST_WAIT_SESSION;
    }
    *err = 0;
    return st;
}

static void open_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_stream *st = w->data;
    switch (st->state) {
    case ST_ACCEPTING:
        log_info(LD_SESSION, "stream %u: not answered in time; refusing it", st->sid);
        stream_send(st, VX_FR_OPEN_FAIL, VX_RSN_TIMEOUT);
        stream_orphan(st);
        break;
    case ST_WAIT_SESSION:
    case ST_OPENING:
        if (st->open_sent)
            stream_send(st, VX_FR_RESET, VX_RSN_TIMEOUT);
        stream_fail_open(st, VX_ERR_TIMEOUT);
        break;
    default:
        break;
    }
}

static void tcp_stream_accept(struct vx_stream *st, int status, const struct vx_stream_cbs *cbs,
                              void *arg)
{
    if (!st)
        return;
    if (st->state == ST_ORPHAN) {
        stream_release(st);
        return;
    }
    if (st->state != ST_ACCEPTING) {
        log_err(LD_SESSION, "stream %u: vx_stream_accept() in the wrong state", st->sid);
        return;
    }
    ev_timer_stop(st->t->loop, &st->open_timer);
    if (status < 0 || !cbs) {
        stream_send(st, VX_FR_OPEN_FAIL,
                    vx_wire_reason_from_err(status < 0 ? status : VX_ERR_INTERNAL));
        stream_release(st);
        return;
    }
    st->cbs = *cbs;
    st->arg = arg;
    st->state = ST_OPEN;
    stream_send(st, VX_FR_OPEN_OK, 0);
}

static int tcp_stream_splice(struct vx_stream *st, int fd, const uint8_t *data, size_t len)
{
    int type = 0;
    socklen_t tl = sizeof(type);
    if (!st || st->state != ST_OPEN || st->spliced || st->attached) {
        if (fd >= 0)
            close(fd);
        return VX_ERR_INVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        stream_send(st, VX_FR_RESET, VX_RSN_INTERNAL);
        stream_finish(st, VX_ERR_SYS);
        return VX_ERR_SYS;
    }
    st->is_sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    if (len > 0) {
        st->tbuf = vx_buf_new(len);
        vx_buf_add(st->tbuf, data, len);
    }
    st->fd = fd;
    st->spliced = 1;
    ev_io_set(&st->rw, fd, EV_READ);
    ev_io_set(&st->ww, fd, EV_WRITE);
    if (st->rbuf && vx_buf_len(st->rbuf) > 0)
        ev_io_start(st->t->loop, &st->ww);
    else
        stream_peer_fin_apply(st);
    if (st->state == ST_OPEN)
        stream_update_read(st);
    return 0;
}

static void tcp_stream_close(struct vx_stream *st, int err)
{
    if (!st || st->state == ST_DEAD)
        return;
    if (st->state == ST_ACCEPTING)
        stream_send(st, VX_FR_OPEN_FAIL, vx_wire_reason_from_err(err < 0 ? err : VX_ERR_REFUSED));
    else if (st->state == ST_OPEN || (st->state == ST_OPENING && st->open_sent))
        stream_send(st, VX_FR_RESET, vx_wire_reason_from_err(err));
    stream_release(st);
}

/* Deferred work of an attached stream: buffered data, FIN, writability. */
static void stream_kick_run(struct vx_stream *st)
{
    if (st->state != ST_OPEN || !st->attached)
        return;
    while (!st->paused && st->rbuf && vx_buf_len(st->rbuf) > 0) {
        const uint8_t *p;
        size_t n = vx_buf_peek(st->rbuf, &p);
        size_t c = st->io.on_data(st, p, n, st->io_arg);
        if (st->state != ST_OPEN)
            return; /* the release credited what was buffered */
        if (c > n)
            c = n;
        vx_buf_drain(st->rbuf, c);
        stream_consumed(st, c);
        if (c < n)
            st->paused = 1;
    }
    if (st->rbuf && vx_buf_len(st->rbuf) == 0) {
        vx_buf_free(st->rbuf);
        st->rbuf = NULL;
    }
    if (!st->paused && !st->rbuf && st->peer_fin && !st->shut_done) {
        st->shut_done = 1;
        if (st->io.on_fin)
            st->io.on_fin(st, st->io_arg);
        if (st->state != ST_OPEN)
            return;
    }
    if (st->local_eof && st->shut_done) {
        stream_finish(st, 0);
        return;
    }
    if (st->want_writable && stream_can_write(st)) {
        st->want_writable = 0;
        if (st->io.on_writable)
            st->io.on_writable(st, st->io_arg);
    }
}

static int tcp_stream_attach(struct vx_stream *st, const struct vx_stream_io *io, void *arg)
{
    if (!st || !io || !io->on_data || st->state != ST_OPEN || st->spliced || st->attached)
        return VX_ERR_INVAL;
    st->io = *io;
    st->io_arg = arg;
    st->attached = 1;
    stream_kick(st);
    return 0;
}

static ssize_t tcp_stream_write(struct vx_stream *st, const uint8_t *data, size_t len)
{
    if (!st || st->state != ST_OPEN || !st->attached)
        return VX_ERR_INVAL;
    if (st->local_eof)
        return VX_ERR_CLOSED;
    struct session *s = st->sess;
    if (!s || s->state != SS_OPEN)
        return VX_ERR_CLOSED;
    size_t done = 0;
    while (done < len) {
        int64_t avail = st->tx_credit < s->tx_credit ? st->tx_credit : s->tx_credit;
        if (avail <= 0 || s->out_blocked)
            break;
        if (s->rec_open && rec_room(s) < VX_FRAME_DATA_HDR_LEN + 1024 && rec_seal(s) < 0) {
            sess_kill(s, VX_ERR_LIMIT, "nonce space exhausted");
            return VX_ERR_CLOSED;
        }
        rec_begin(s);
        size_t n = rec_room(s) - VX_FRAME_DATA_HDR_LEN;
        if (n > len - done)
            n = len - done;
        if ((uint64_t)n > (uint64_t)avail)
            n = (size_t)avail;
        uint8_t *hdr = s->out + s->out_len;
        memcpy(hdr + VX_FRAME_DATA_HDR_LEN, data + done, n);
        vx_frame_data_hdr(hdr, st->sid, (uint16_t)n);
        s->out_len += VX_FRAME_DATA_HDR_LEN + n;
        st->tx_credit -= (int64_t)n;
        s->tx_credit -= (int64_t)n;
        s->bytes_out += n;
        st->t->st.bytes_out += n;
        done += n;
        if (s->out_len - s->out_off > OUT_HWM)
            s->out_blocked = 1;
    }
    if (done)
        sess_mark_dirty(s);
    if (done < len)
        st->want_writable = 1;
    return done ? (ssize_t)done : VX_ERR_AGAIN;
}

static int tcp_stream_shutdown(struct vx_stream *st)
{
    if (!st || st->state != ST_OPEN || !st->attached)
        return VX_ERR_INVAL;
    if (st->local_eof)
        return 0;
    st->local_eof = 1;
    st->want_writable = 0;
    stream_send(st, VX_FR_FIN, 0);
    stream_kick(st);
    return 0;
}

static void tcp_stream_read_resume(struct vx_stream *st)
{
    if (!st || st->state != ST_OPEN || !st->attached)
        return;
    st->paused = 0;
    stream_kick(st);
}

static const uint8_t *tcp_stream_peer_id(const struct vx_stream *st)
{
    return st->peer_id;
}

static void tcp_get_stats(const struct vx_transport *t, struct vx_transport_stats *out)
{
    *out = t->st;
    out->stream_mem = 0;
    out->isolated = 0;
    for (const struct session *s = t->sessions; s; s = s->next) {
        if (s->iso && s->state == SS_OPEN)
            out->isolated++;
        for (const struct vx_stream *st = s->streams; st; st = st->next) {
            if (st->rbuf)
                out->stream_mem += vx_buf_mem(st->rbuf);
            if (st->tbuf)
                out->stream_mem += vx_buf_mem(st->tbuf);
        }
    }
}

static void tcp_foreach_session(const struct vx_transport *t, vx_session_visit_fn fn, void *arg)
{
    struct vx_session_info info;
    for (const struct session *s = t->sessions; s; s = s->next) {
        if (s->state != SS_OPEN)
            continue;
        memset(&info, 0, sizeof(info));
        memcpy(info.peer_id, s->peer_id, VX_NODE_ID_LEN);
        memcpy(&info.addr, &s->addr, s->addrlen);
        info.addrlen = s->addrlen;
        info.initiator = s->initiator;
        info.isolated = s->iso != 0;
        info.streams = s->nstreams;
        info.bytes_in = s->bytes_in;
        info.bytes_out = s->bytes_out;
        info.established_ms = s->established_ms;
        info.rtt_ms = s->rtt_ms;
        info.cipher = vx_aead_name(s->aead);
        fn(&info, arg);
    }
}

static const struct vx_transport_ops tcp_ops = {
        .free = tcp_free,
        .listen = tcp_listen,
        .open = tcp_open,
        .get_stats = tcp_get_stats,
        .foreach_session = tcp_foreach_session,
};

static const struct vx_stream_ops tcp_stream_ops = {
        .accept = tcp_stream_accept,
        .splice = tcp_stream_splice,
        .close = tcp_stream_close,
        .peer_id = tcp_stream_peer_id,
        .attach = tcp_stream_attach,
        .write = tcp_stream_write,
        .shutdown = tcp_stream_shutdown,
        .read_resume = tcp_stream_read_resume,
};
