/* circuit.c — relay circuits: links, the relay and exit roles, the client.
 *
 * Building blocks:
 *   link   one attached VX_TARGET_RELAY stream carrying cells: an input
 *          reassembly buffer (one cell) and an output queue.  Input is taken
 *          from the stream only while the owner has room for what a cell
 *          produces, so a slow consumer stalls the stream's credit
 *          (backpressure end to end).
 *   fdend  a local socket (client side: the application; exit side: the
 *          service) with a capped write queue.
 *   rcirc  a circuit as a relay or exit sees it: prev link, next link (after
 *          EXTEND) or an fdend (after BEGIN), one layer (fwd open, bwd seal).
 *   vx_circuit  the client's circuit: one link to hop 0, one layer per hop.
 *
 * Objects are never freed from inside a callback: they are marked dead,
 * unlinked and parked, and an ev_check watcher frees them.
 */
#include "path/circuit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "crypto/channel.h"
#include "hidden/intro.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "path/onion.h"
#include "service/service.h"
#include "wire/cell.h"

#define Q_HWM      (128u * 1024) /* stop taking input above this much queued output */
#define Q_LWM      (32u * 1024)  /* ...and resume below this */
#define RD_CELLS   4             /* cells read from a local socket at once */
#define Q_CAP      (Q_HWM + (RD_CELLS + 2u) * (VX_CELL_HDR_LEN + VX_CELL_BODY_MAX))
#define CELL_BUF   (VX_CELL_HDR_LEN + VX_CELL_BODY_MAX + VX_CELL_TAG_LEN)
#define RD_SLOT    (CELL_BUF + VX_CIRCUIT_MAX_HOPS * VX_CELL_TAG_LEN)
#define SCHED_TICK 0.005
#define QUANTUM    4096u
#define LINGER_S   10.0
#define BEGIN_CTX  "vx6 relay begin v1"
#define log_info_rl(d, ...)                                                                        \
    do {                                                                                           \
        static struct vx_ratelim rl__ = VX_RATELIM_INIT(5000);                                     \
        vx_log_rl(&rl__, (d), VX_LOG_INFO, __VA_ARGS__);                                           \
    } while (0)
#define REND_WAIT_S 60.0 /* a rendezvous cookie waits this long for the service */

/* ---------------------------------------------------------------------- */
/* links */

struct link;
struct link_ops {
    /* a complete cell; body is writable and has VX_CELL_TAG_LEN spare bytes */
    void (*cell)(struct link *l, uint8_t cmd, uint8_t *body, size_t len);
    int (*room)(struct link *l);      /* may another cell be taken now? */
    void (*writable)(struct link *l); /* the stream can take more output */
    void (*drained)(struct link *l);  /* output queue fell below Q_LWM */
    void (*gone)(struct link *l, int err);
};

struct link {
    const struct link_ops *ops;
    void *owner;
    struct vx_stream *s;
    int open;
    uint8_t *in;
    size_t in_len;
    struct vx_buf *q;
    int blocked; /* q went over Q_HWM: tell the owner when it drains */
};

static void link_init(struct link *l, const struct link_ops *ops, void *owner)
{
    memset(l, 0, sizeof(*l));
    l->ops = ops;
    l->owner = owner;
}

static size_t link_qlen(const struct link *l)
{
    return l->q ? vx_buf_len(l->q) : 0;
}

static int link_has_room(struct link *l)
{
    return link_qlen(l) < Q_HWM;
}

/* Write queued output, at most max bytes.  Returns bytes written. */
static size_t link_flush(struct link *l, size_t max)
{
    size_t total = 0;
    const uint8_t *p;
    size_t n;
    while (l->s && l->q && total < max && (n = vx_buf_peek(l->q, &p)) > 0) {
        if (n > max - total)
            n = max - total;
        ssize_t w = vx_stream_write(l->s, p, n);
        if (w <= 0)
            break;
        vx_buf_drain(l->q, (size_t)w);
        total += (size_t)w;
    }
    if (l->blocked && link_qlen(l) < Q_LWM) {
        l->blocked = 0;
        if (l->ops->drained)
            l->ops->drained(l);
    }
    return total;
}

/* Queue a whole cell (hdr + body contiguous) for the stream. */
static int link_queue(struct link *l, const uint8_t *cell, size_t n)
{
    if (!l->s || !l->open)
        return VX_ERR_CLOSED;
    if (!l->q)
        l->q = vx_buf_new(Q_CAP);
    if (vx_buf_add(l->q, cell, n) < 0)
        return VX_ERR_LIMIT; /* the room checks keep us far below the cap */
    if (link_qlen(l) >= Q_HWM)
        l->blocked = 1;
    return 0;
}

/* Send a whole cell now: straight into the stream when nothing waits ahead
 * of it (one copy fewer than through the queue), what the stream does not
 * take queued.  *direct (may be NULL) gets the bytes the stream took. */
static int link_put(struct link *l, const uint8_t *cell, size_t n, size_t *direct)
{
    size_t d = 0;
    if (!l->s || !l->open)
        return VX_ERR_CLOSED;
    if (link_qlen(l) == 0) {
        ssize_t w = vx_stream_write(l->s, cell, n);
        if (w > 0)
            d = (size_t)w;
    }
    if (direct)
        *direct = d;
    if (d == n)
        return 0;
    int r = link_queue(l, cell + d, n - d);
    if (r == 0 && d == 0)
        link_flush(l, SIZE_MAX);
    return r;
}

static int link_send(struct link *l, const uint8_t *cell, size_t n)
{
    return link_put(l, cell, n, NULL);
}

static int link_send_cell(struct link *l, uint8_t cmd, const uint8_t *body, size_t len)
{
    uint8_t buf[VX_CELL_HDR_LEN + 128];
    if (len > sizeof(buf) - VX_CELL_HDR_LEN)
        return VX_ERR_TOOBIG;
    vx_cell_hdr_encode(buf, cmd, len);
    memcpy(buf + VX_CELL_HDR_LEN, body, len);
    return link_send(l, buf, VX_CELL_HDR_LEN + len);
}

/* Close the stream; with a reason, try to tell the peer with DESTROY first. */
static void link_close(struct link *l, int send_destroy, uint8_t reason)
{
    if (l->s) {
        if (send_destroy && l->open) {
            uint8_t c[VX_CELL_HDR_LEN + 1];
            vx_cell_hdr_encode(c, VX_CELL_DESTROY, 1);
            c[3] = reason;
            if (!l->q || vx_buf_len(l->q) == 0)
                vx_stream_write(l->s, c, sizeof(c));
        }
        vx_stream_close(l->s, VX_ERR_CLOSED);
        l->s = NULL;
    }
    l->open = 0;
    vx_buf_free(l->q);
    l->q = NULL;
    free(l->in);
    l->in = NULL;
}

static size_t link_on_data(struct vx_stream *s, const uint8_t *d, size_t n, void *arg)
{
    struct link *l = arg;
    size_t used = 0;
    while (used < n) {
        if (l->s != s)
            return n; /* closed (or reused) from a cell handler: drop the rest */
        if (l->in_len == 0 && !l->ops->room(l))
            break;
        if (!l->in)
            l->in = malloc(CELL_BUF);
        if (!l->in)
            abort();
        size_t want = VX_CELL_HDR_LEN;
        if (l->in_len >= VX_CELL_HDR_LEN)
            want += (size_t)l->in[1] << 8 | l->in[2];
        size_t take = want - l->in_len;
        if (take > n - used)
            take = n - used;
        memcpy(l->in + l->in_len, d + used, take);
        l->in_len += take;
        used += take;
        if (l->in_len == VX_CELL_HDR_LEN) {
            struct vx_cell c;
            size_t u;
            int r = vx_cell_decode(l->in, VX_CELL_HDR_LEN, &c, &u);
            if (r == VX_ERR_PROTO) {
                l->ops->gone(l, VX_ERR_PROTO);
                return n;
            }
            if (r == 0) { /* empty body: complete */
                l->in_len = 0;
                l->ops->cell(l, c.cmd, l->in + VX_CELL_HDR_LEN, 0);
            }
            continue;
        }
        if (l->in_len > VX_CELL_HDR_LEN && l->in_len == want) {
            l->in_len = 0;
            l->ops->cell(l, l->in[0], l->in + VX_CELL_HDR_LEN, want - VX_CELL_HDR_LEN);
        }
    }
    return used;
}

static void link_on_fin(struct vx_stream *s, void *arg)
{
    struct link *l = arg;
    /* cells never end with FIN: the peer closed without DESTROY */
    if (l->s == s)
        l->ops->gone(l, VX_ERR_CLOSED);
}

static void link_on_writable(struct vx_stream *s, void *arg)
{
    struct link *l = arg;
    if (l->s == s)
        l->ops->writable(l);
}

static const struct vx_stream_io link_io = {link_on_data, link_on_fin, link_on_writable};

static void link_on_close(struct vx_stream *s, int err, void *arg)
{
    struct link *l = arg;
    if (l->s != s)
        return;
    l->s = NULL;
    l->open = 0;
    l->ops->gone(l, err ? err : VX_ERR_CLOSED);
}

static void link_resume(struct link *l)
{
    if (l->s)
        vx_stream_read_resume(l->s);
}

/* ---------------------------------------------------------------------- */
/* local socket ends */

struct fdend;
struct fdend_ops {
    void (*data)(struct fdend *f, uint8_t *cellbuf, size_t len); /* data at cellbuf+6 */
    void (*eof)(struct fdend *f);
    int (*room)(struct fdend *f); /* may we read more from fd? */
    void (*drained)(struct fdend *f);
    void (*gone)(struct fdend *f, int err);
};

struct fdend {
    const struct fdend_ops *ops;
    void *owner;
    struct ev_loop *loop;
    int fd;
    ev_io rw, ww;
    struct vx_buf *wq;
    int rd_eof;   /* fd said EOF, END sent */
    int peer_end; /* END received */
    int wr_shut;  /* shutdown(SHUT_WR) done */
    int blocked;
};

#define FD_DATA_OFF (VX_CELL_HDR_LEN + VX_CELL_PAYLOAD_HDR)

static void fdend_update(struct fdend *f)
{
    if (f->fd < 0)
        return;
    if (!f->rd_eof && f->ops->room(f))
        ev_io_start(f->loop, &f->rw);
    else
        ev_io_stop(f->loop, &f->rw);
    if (f->wq && vx_buf_len(f->wq) > 0)
        ev_io_start(f->loop, &f->ww);
    else
        ev_io_stop(f->loop, &f->ww);
}

static void fdend_close(struct fdend *f)
{
    if (f->fd >= 0) {
        ev_io_stop(f->loop, &f->rw);
        ev_io_stop(f->loop, &f->ww);
        close(f->fd);
        f->fd = -1;
    }
    vx_buf_free(f->wq);
    f->wq = NULL;
}

static int fdend_done(const struct fdend *f)
{
    return f->rd_eof && f->wr_shut;
}

static void fdend_try_shut(struct fdend *f)
{
    if (f->fd >= 0 && f->peer_end && !f->wr_shut && (!f->wq || vx_buf_len(f->wq) == 0)) {
        shutdown(f->fd, SHUT_WR);
        f->wr_shut = 1;
    }
}

/* Read the local socket into up to RD_CELLS cell buffers with one readv and
 * hand them over one by one: a syscall per 64 KiB instead of per cell.  The
 * buffers are static (one loop per process, and no data callback reads a
 * local socket); Q_CAP leaves room for a whole batch above Q_HWM. */
static void fdend_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    static uint8_t bufs[RD_CELLS][RD_SLOT];
    struct fdend *f = w->data;
    struct iovec iov[RD_CELLS];
    for (int i = 0; i < RD_CELLS; i++)
        iov[i] = (struct iovec){bufs[i] + FD_DATA_OFF, VX_CELL_DATA_MAX};
    for (int round = 0; round < 2 && f->fd >= 0 && !f->rd_eof && f->ops->room(f); round++) {
        ssize_t n = readv(f->fd, iov, RD_CELLS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            f->ops->gone(f, VX_ERR_CLOSED);
            return;
        }
        if (n == 0) {
            f->rd_eof = 1;
            f->ops->eof(f);
            break;
        }
        size_t left = (size_t)n;
        for (int i = 0; left > 0 && f->fd >= 0; i++) {
            size_t k = left < VX_CELL_DATA_MAX ? left : VX_CELL_DATA_MAX;
            f->ops->data(f, bufs[i], k);
            left -= k;
        }
        if ((size_t)n < (size_t)RD_CELLS * VX_CELL_DATA_MAX)
            break;
    }
    if (f->fd >= 0)
        fdend_update(f);
}

/* Write iov to the local fd: MSG_NOSIGNAL, so a vanished reader does not
 * raise SIGPIPE; writev for what is not a socket (a pipe in tests). */
static ssize_t fdend_writev(int fd, struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t wr;
    do {
        wr = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (wr < 0 && errno == ENOTSOCK)
            wr = writev(fd, iov, n);
    } while (wr < 0 && errno == EINTR);
    return wr;
}

static void fdend_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct fdend *f = w->data;
    struct iovec iov[16];
    int n;
    while (f->wq && (n = vx_buf_peekv(f->wq, iov, 16)) > 0) {
        size_t want = 0;
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        ssize_t wr = fdend_writev(f->fd, iov, n);
        if (wr < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (wr < 0) {
            f->ops->gone(f, VX_ERR_CLOSED);
            return;
        }
        vx_buf_drain(f->wq, (size_t)wr);
        if ((size_t)wr < want)
            break;
    }
    if (f->blocked && (!f->wq || vx_buf_len(f->wq) < Q_LWM)) {
        f->blocked = 0;
        f->ops->drained(f);
        if (f->fd < 0)
            return;
    }
    int was = f->wr_shut;
    fdend_try_shut(f);
    if (!was && f->wr_shut) {
        f->ops->drained(f);
        if (f->fd < 0)
            return;
    }
    fdend_update(f);
}

static void fdend_start(struct fdend *f, struct ev_loop *loop, int fd, const struct fdend_ops *ops,
                        void *owner)
{
    f->ops = ops;
    f->owner = owner;
    f->loop = loop;
    f->fd = fd;
    ev_io_init(&f->rw, fdend_read_cb, fd, EV_READ);
    ev_io_init(&f->ww, fdend_write_cb, fd, EV_WRITE);
    f->rw.data = f->ww.data = f;
    fdend_update(f);
}

/* Peer data for the local socket. */
static int fdend_put(struct fdend *f, const uint8_t *p, size_t n)
{
    if (f->fd < 0 || f->peer_end)
        return VX_ERR_PROTO;
    if (!f->wq || vx_buf_len(f->wq) == 0) {
        /* nothing queued: try the socket first and queue only the rest (an
         * error shows again, and is handled, when the queue is written) */
        struct iovec iov = {(void *)p, n};
        ssize_t wr = n ? fdend_writev(f->fd, &iov, 1) : 0;
        if (wr > 0) {
            p += wr;
            n -= (size_t)wr;
        }
        if (n == 0)
            return 0;
    }
    if (!f->wq)
        f->wq = vx_buf_new(Q_CAP);
    if (vx_buf_add(f->wq, p, n) < 0)
        return VX_ERR_LIMIT;
    if (vx_buf_len(f->wq) >= Q_HWM)
        f->blocked = 1;
    ev_io_start(f->loop, &f->ww);
    return 0;
}

static int fdend_has_room(const struct fdend *f)
{
    return !f->wq || vx_buf_len(f->wq) < Q_HWM;
}

/* ---------------------------------------------------------------------- */
/* the relay object */

struct tbucket {
    double tokens, rate, burst;
    uint64_t last_ms;
};

static void tb_init(struct tbucket *b, uint64_t rate, uint64_t burst)
{
    b->rate = (double)rate;
    b->burst = burst ? (double)burst : (double)rate / 4 + 65536;
    b->tokens = b->burst;
    b->last_ms = vx_time_mono_ms();
}

static void tb_refill(struct tbucket *b, uint64_t now)
{
    if (b->rate <= 0)
        return;
    b->tokens += b->rate * (double)(now - b->last_ms) / 1000.0;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ms = now;
}

enum rc_state {
    RC_WAIT_CREATE,
    RC_FRONTIER,  /* answered CREATE, no next hop */
    RC_EXTENDING, /* next stream opening / CREATE sent */
    RC_RELAYING,  /* next hop attached: forward */
    RC_EXIT_CONNECTING,
    RC_EXIT_OPEN,
    RC_INTRO,     /* a service's introduction circuit (hskey: its auth key) */
    RC_REND_WAIT, /* a client's rendezvous circuit (hskey: its cookie) */
    RC_JOINED,    /* rendezvous done: cells go to and come from peer */
    RC_DEAD,
};

struct rcirc {
    struct vx_relay *r;
    struct rcirc *next, *prev;
    struct rcirc *reap_next;
    struct rcirc *sched_next;
    int in_sched;
    enum rc_state state;
    struct link pl, nl; /* previous and next hop */
    uint8_t prev_id[VX_NODE_ID_LEN];
    struct vx_chan *fwd, *bwd;
    uint8_t binding[32];
    struct vx_cell_create ncreate; /* for the next hop */
    ev_timer timer;
    struct tbucket tb;
    struct fdend fe;
    int lingering;
    uint8_t hskey[32];
    struct rcirc *peer; /* RC_JOINED: the other side of the rendezvous */
};

/* a pool relay that failed a build lately (client side) */
#define DOWN_MAX 64
struct downmark {
    uint8_t id[VX_NODE_ID_LEN];
    uint64_t until_ms; /* loop time */
};

struct vx_relay {
    struct ev_loop *loop;
    struct vx_transport *t;
    const struct vx_identity *id;
    struct vx_relay_conf conf;
    const struct vx_services *svcs;
    struct vx_relay_cand *pool;
    size_t npool;
    struct rcirc *rcs;
    struct rcirc *reap_rcs;
    struct vx_circuit *circs;
    struct vx_circuit *reap_circs;
    struct rcirc *sched_head, *sched_tail;
    struct tbucket tb;
    ev_timer sched;
    ev_check reap_w;
    struct vx_relay_stats st;
    vx_relay_tap_fn tap; /* tests only */
    void *tap_arg;
    struct downmark down[DOWN_MAX];
};

void vx_relay_conf_defaults(struct vx_relay_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->enabled = 1;
    c->max_circuits = 1024;
    c->max_per_prev = 256;
    c->setup_timeout_ms = 5000;
    c->attempts = 3;
    c->down_ms = VX_CIRCUIT_DOWN_MS;
    c->diversity = 1;
}

static void rc_kill(struct rcirc *rc, int destroy_prev, int destroy_next, uint8_t reason);

static int limited(const struct vx_relay *r)
{
    return r->conf.rate_total > 0 || r->conf.rate_circuit > 0;
}

/* ---- governor: fair queuing of relayed output ---- */

static void sched_add(struct rcirc *rc)
{
    struct vx_relay *r = rc->r;
    if (rc->in_sched)
        return;
    rc->in_sched = 1;
    rc->sched_next = NULL;
    if (r->sched_tail)
        r->sched_tail->sched_next = rc;
    else
        r->sched_head = rc;
    r->sched_tail = rc;
    if (!ev_is_active(&r->sched))
        ev_timer_start(r->loop, &r->sched);
}

static void sched_remove(struct rcirc *rc)
{
    struct vx_relay *r = rc->r;
    if (!rc->in_sched)
        return;
    struct rcirc *prev = NULL;
    for (struct rcirc *x = r->sched_head; x; prev = x, x = x->sched_next) {
        if (x != rc)
            continue;
        if (prev)
            prev->sched_next = x->sched_next;
        else
            r->sched_head = x->sched_next;
        if (r->sched_tail == x)
            r->sched_tail = prev;
        break;
    }
    rc->in_sched = 0;
    rc->sched_next = NULL;
}

static size_t rc_pending(const struct rcirc *rc)
{
    return link_qlen(&rc->pl) + link_qlen(&rc->nl);
}

/* Flush up to budget bytes of this circuit's queues, both directions. */
static size_t rc_flush_budget(struct rcirc *rc, size_t budget)
{
    size_t done = 0;
    if (budget > 0 && link_qlen(&rc->nl))
        done += link_flush(&rc->nl, (budget + 1) / 2 > QUANTUM ? budget : (budget + 1) / 2);
    if (budget > done && link_qlen(&rc->pl))
        done += link_flush(&rc->pl, budget - done);
    if (budget > done && link_qlen(&rc->nl))
        done += link_flush(&rc->nl, budget - done);
    return done;
}

static size_t rc_allowance(struct rcirc *rc, uint64_t now)
{
    struct vx_relay *r = rc->r;
    double a = 1e18;
    if (r->conf.rate_total) {
        tb_refill(&r->tb, now);
        a = r->tb.tokens;
    }
    if (r->conf.rate_circuit) {
        tb_refill(&rc->tb, now);
        if (rc->tb.tokens < a)
            a = rc->tb.tokens;
    }
    return a <= 0 ? 0 : a > 1e15 ? SIZE_MAX : (size_t)a;
}

static void rc_charge(struct rcirc *rc, size_t n)
{
    if (rc->r->conf.rate_total)
        rc->r->tb.tokens -= (double)n;
    if (rc->r->conf.rate_circuit)
        rc->tb.tokens -= (double)n;
    rc->r->st.bytes_relayed += n;
}

/* Middle relay output: push what the buckets allow, queue the rest. */
static void rc_pump(struct rcirc *rc)
{
    if (rc->state != RC_RELAYING)
        return;
    if (!limited(rc->r)) {
        size_t n = link_flush(&rc->nl, SIZE_MAX);
        n += link_flush(&rc->pl, SIZE_MAX);
        rc->r->st.bytes_relayed += n;
        return;
    }
    if (rc->in_sched)
        return; /* the scheduler serves it in turn */
    size_t a = rc_allowance(rc, vx_time_mono_ms());
    rc_charge(rc, rc_flush_budget(rc, a));
    if (rc->state == RC_RELAYING && rc_pending(rc) > 0)
        sched_add(rc);
}

/* A middle relay passes a cell on: straight to the stream when no governor
 * applies and nothing waits, else through the queue and the pump. */
static int rc_forward(struct rcirc *rc, struct link *to, const uint8_t *cell, size_t n)
{
    if (!limited(rc->r) && link_qlen(to) == 0) {
        size_t d = 0;
        int r = link_put(to, cell, n, &d);
        rc->r->st.bytes_relayed += d;
        return r;
    }
    if (link_queue(to, cell, n) < 0)
        return VX_ERR_INTERNAL;
    rc_pump(rc);
    return 0;
}

/* Round robin over circuits with queued cells, one quantum each per turn. */
static void sched_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_relay *r = w->data;
    uint64_t now = vx_time_mono_ms();
    int progress = 1;
    while (r->sched_head && progress) {
        progress = 0;
        struct rcirc *end = r->sched_tail;
        for (;;) {
            struct rcirc *rc = r->sched_head;
            if (!rc)
                break;
            int last = rc == end;
            sched_remove(rc);
            size_t a = rc_allowance(rc, now);
            if (a > QUANTUM)
                a = QUANTUM;
            size_t n = a ? rc_flush_budget(rc, a) : 0;
            rc_charge(rc, n);
            if (n)
                progress = 1;
            if (rc->state == RC_RELAYING && rc_pending(rc) > 0)
                sched_add(rc);
            if (last)
                break;
        }
    }
    if (!r->sched_head)
        ev_timer_stop(loop, w);
}

/* ---- relay circuit ---- */

static void rc_reap_park(struct rcirc *rc)
{
    struct vx_relay *r = rc->r;
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        r->rcs = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    rc->prev = rc->next = NULL;
    rc->reap_next = r->reap_rcs;
    r->reap_rcs = rc;
    r->st.circuits--;
}

static void rc_finalize(struct rcirc *rc)
{
    struct vx_relay *r = rc->r;
    ev_timer_stop(r->loop, &rc->timer);
    sched_remove(rc);
    fdend_close(&rc->fe);
    vx_chan_free(rc->fwd);
    vx_chan_free(rc->bwd);
    rc->fwd = rc->bwd = NULL;
    sodium_memzero(rc->binding, sizeof(rc->binding));
    rc_reap_park(rc);
}

static void rc_kill(struct rcirc *rc, int destroy_prev, int destroy_next, uint8_t reason)
{
    if (rc->state == RC_DEAD)
        return;
    rc->state = RC_DEAD;
    if (rc->peer) {
        /* a rendezvous ends on both sides at once */
        struct rcirc *p = rc->peer;
        rc->peer = NULL;
        p->peer = NULL;
        rc_kill(p, 1, 0, reason ? reason : VX_CR_HOP_GONE);
    }
    link_close(&rc->pl, destroy_prev, reason);
    link_close(&rc->nl, destroy_next, reason);
    /* data already queued for the service is still delivered */
    if (rc->fe.fd >= 0 && rc->fe.wq && vx_buf_len(rc->fe.wq) > 0 && rc->fe.peer_end) {
        rc->lingering = 1;
        rc->fe.blocked = 1;
        ev_timer_stop(rc->r->loop, &rc->timer);
        ev_timer_set(&rc->timer, LINGER_S, 0);
        ev_timer_start(rc->r->loop, &rc->timer);
        ev_io_stop(rc->r->loop, &rc->fe.rw);
        return;
    }
    rc_finalize(rc);
}

/* Originate a relay payload toward the client (frontier or exit). */
static int rc_send_back(struct rcirc *rc, uint8_t rcmd, const uint8_t *data, size_t len)
{
    uint8_t buf[CELL_BUF];
    size_t plen = 0;
    int r = vx_relay_payload_encode(rcmd, data, len, buf + VX_CELL_HDR_LEN,
                                    sizeof(buf) - VX_CELL_HDR_LEN - VX_CELL_TAG_LEN, &plen);
    if (r < 0)
        return r;
    if ((r = vx_chan_seal(rc->bwd, buf + VX_CELL_HDR_LEN, plen, NULL, 0)) < 0)
        return r;
    vx_cell_hdr_encode(buf, VX_CELL_RELAY, plen + VX_CELL_TAG_LEN);
    return link_send(&rc->pl, buf, VX_CELL_HDR_LEN + plen + VX_CELL_TAG_LEN);
}

static void rc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rcirc *rc = w->data;
    if (rc->lingering) {
        rc->lingering = 0;
        rc_finalize(rc);
        return;
    }
    switch (rc->state) {
    case RC_WAIT_CREATE:
    case RC_REND_WAIT:
        rc_kill(rc, 1, 0, VX_CR_TIMEOUT);
        break;
    case RC_EXTENDING: {
        uint8_t reason = VX_CR_TIMEOUT;
        link_close(&rc->nl, 1, VX_CR_TIMEOUT);
        rc->state = RC_FRONTIER;
        if (rc_send_back(rc, VX_RC_EXTEND_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        break;
    }
    default:
        break;
    }
}

static const struct link_ops prev_ops, next_ops;
static const struct fdend_ops exit_fd_ops;

/* next hop link */

static void rc_next_cell(struct link *l, uint8_t cmd, uint8_t *body, size_t len)
{
    struct rcirc *rc = l->owner;
    switch (cmd) {
    case VX_CELL_CREATED:
        if (rc->state != RC_EXTENDING || len != VX_CELL_CREATED_LEN) {
            rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
            return;
        }
        ev_timer_stop(rc->r->loop, &rc->timer);
        rc->state = RC_RELAYING;
        rc->r->st.extends++;
        if (rc_send_back(rc, VX_RC_EXTENDED, body, len) < 0)
            rc_kill(rc, 1, 1, VX_CR_INTERNAL);
        return;
    case VX_CELL_RELAY:
        if (rc->state != RC_RELAYING || len + VX_CELL_TAG_LEN > VX_CELL_BODY_MAX || len == 0) {
            rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
            return;
        }
        /* backward: add our layer */
        if (rc->r->tap)
            rc->r->tap(body, len, 0, rc->r->tap_arg);
        if (vx_chan_seal(rc->bwd, body, len, NULL, 0) < 0) {
            rc_kill(rc, 1, 1, VX_CR_INTERNAL);
            return;
        }
        body -= VX_CELL_HDR_LEN;
        vx_cell_hdr_encode(body, VX_CELL_RELAY, len + VX_CELL_TAG_LEN);
        if (rc_forward(rc, &rc->pl, body, VX_CELL_HDR_LEN + len + VX_CELL_TAG_LEN) < 0)
            rc_kill(rc, 1, 1, VX_CR_INTERNAL);
        return;
    case VX_CELL_DESTROY: {
        uint8_t reason = len == 1 ? body[0] : VX_CR_PROTOCOL;
        log_debug(LD_PATH, "relay: next hop destroyed a circuit: %s", vx_cell_reason_str(reason));
        if (rc->state == RC_EXTENDING) {
            /* the hop we tried refused: tell the client, stay the frontier */
            link_close(&rc->nl, 0, 0);
            ev_timer_stop(rc->r->loop, &rc->timer);
            rc->state = RC_FRONTIER;
            if (rc_send_back(rc, VX_RC_EXTEND_FAILED, &reason, 1) < 0)
                rc_kill(rc, 1, 0, VX_CR_INTERNAL);
            return;
        }
        rc_kill(rc, 1, 0, reason);
        return;
    }
    default:
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
    }
}

static int rc_next_room(struct link *l)
{
    struct rcirc *rc = l->owner;
    return link_has_room(&rc->pl);
}

static void rc_next_writable(struct link *l)
{
    struct rcirc *rc = l->owner;
    if (rc->state == RC_RELAYING)
        rc_pump(rc);
    else
        link_flush(l, SIZE_MAX);
}

/* the next link's queue drained: take input from the previous hop again */
static void rc_next_drained(struct link *l)
{
    struct rcirc *rc = l->owner;
    link_resume(&rc->pl);
}

static void rc_next_gone(struct link *l, int err)
{
    struct rcirc *rc = l->owner;
    if (rc->state == RC_EXTENDING) {
        uint8_t reason = vx_cell_reason_from_err(err);
        if (reason == VX_CR_HOP_GONE || reason == VX_CR_NONE)
            reason = VX_CR_CONNECT;
        link_close(l, 0, 0);
        ev_timer_stop(rc->r->loop, &rc->timer);
        rc->state = RC_FRONTIER;
        if (rc_send_back(rc, VX_RC_EXTEND_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    rc_kill(rc, 1, 0, VX_CR_HOP_GONE);
}

static const struct link_ops next_ops = {rc_next_cell, rc_next_room, rc_next_writable,
                                         rc_next_drained, rc_next_gone};

static void rc_next_open(struct vx_stream *s, int err, void *arg)
{
    struct rcirc *rc = ((struct link *)arg)->owner;
    if (rc->state != RC_EXTENDING || rc->nl.s != s) {
        if (err == 0)
            vx_stream_close(s, VX_ERR_CLOSED);
        return;
    }
    if (err < 0) {
        rc->nl.s = NULL;
        rc_next_gone(&rc->nl, err);
        return;
    }
    rc->nl.open = 1;
    vx_stream_attach(s, &link_io, &rc->nl);
    uint8_t body[VX_CELL_CREATE_LEN];
    vx_cell_create_encode(&rc->ncreate, body);
    if (link_send_cell(&rc->nl, VX_CELL_CREATE, body, sizeof(body)) < 0)
        rc_next_gone(&rc->nl, VX_ERR_INTERNAL);
}

static const struct vx_stream_cbs next_cbs = {rc_next_open, link_on_close};

/* frontier: EXTEND */
static void rc_extend(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    struct vx_cell_extend e;
    uint8_t reason = 0;
    int err;
    if (vx_cell_extend_decode(d, len, &e) < 0) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    if (!r->conf.enabled) {
        r->st.refused_disabled++;
        reason = VX_CR_DISABLED;
    } else if (memcmp(e.node_id, r->id->node_id, VX_NODE_ID_LEN) == 0 ||
               memcmp(e.node_id, rc->prev_id, VX_NODE_ID_LEN) == 0) {
        reason = VX_CR_LOOP;
    }
    if (reason) {
        if (rc_send_back(rc, VX_RC_EXTEND_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    struct vx_stream_target tgt = {.kind = VX_TARGET_RELAY};
    rc->ncreate = e.create;
    link_init(&rc->nl, &next_ops, rc);
    rc->state = RC_EXTENDING;
    ev_timer_stop(r->loop, &rc->timer);
    ev_timer_set(&rc->timer, r->conf.setup_timeout_ms / 1000.0, 0);
    ev_timer_start(r->loop, &rc->timer);
    rc->nl.s = vx_transport_open(r->t, e.node_id, (struct sockaddr *)&e.addr, e.addrlen, &tgt,
                                 &next_cbs, &rc->nl, &err);
    if (!rc->nl.s)
        rc_next_gone(&rc->nl, err);
}

/* exit: BEGIN */

static void exit_send_data(struct fdend *f, uint8_t *buf, size_t n)
{
    struct rcirc *rc = f->owner;
    if (rc_send_back(rc, VX_RC_DATA, buf + FD_DATA_OFF, n) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void exit_eof(struct fdend *f)
{
    struct rcirc *rc = f->owner;
    if (rc_send_back(rc, VX_RC_END, NULL, 0) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static int exit_room(struct fdend *f)
{
    struct rcirc *rc = f->owner;
    return rc->state == RC_EXIT_OPEN && link_has_room(&rc->pl);
}

static void exit_drained(struct fdend *f)
{
    struct rcirc *rc = f->owner;
    if (rc->lingering) {
        if (!f->wq || vx_buf_len(f->wq) == 0) {
            fdend_try_shut(f);
            rc->lingering = 0;
            rc_finalize(rc);
        } else {
            f->blocked = 1; /* call again as it drains */
        }
        return;
    }
    link_resume(&rc->pl);
}

static void exit_gone(struct fdend *f, int err)
{
    struct rcirc *rc = f->owner;
    if (rc->lingering) {
        rc->lingering = 0;
        rc_finalize(rc);
        return;
    }
    rc_kill(rc, 1, 0, VX_CR_REFUSED);
}

static const struct fdend_ops exit_fd_ops = {exit_send_data, exit_eof, exit_room, exit_drained,
                                             exit_gone};

static void exit_connect_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rcirc *rc = w->data;
    int e = 0;
    socklen_t el = sizeof(e);
    ev_io_stop(loop, w);
    ev_timer_stop(loop, &rc->timer);
    if (getsockopt(rc->fe.fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        e = errno;
    if (e) {
        uint8_t reason = e == ETIMEDOUT ? VX_CR_TIMEOUT : VX_CR_REFUSED;
        close(rc->fe.fd);
        rc->fe.fd = -1;
        rc->state = RC_FRONTIER;
        if (rc_send_back(rc, VX_RC_BEGIN_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    int fd = rc->fe.fd;
    rc->state = RC_EXIT_OPEN;
    rc->r->st.exits++;
    fdend_start(&rc->fe, loop, fd, &exit_fd_ops, rc);
    if (rc_send_back(rc, VX_RC_CONNECTED, NULL, 0) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void exit_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rcirc *rc = w->data;
    if (rc->state != RC_EXIT_CONNECTING) {
        rc_timer_cb(loop, w, revents);
        return;
    }
    uint8_t reason = VX_CR_TIMEOUT;
    ev_io_stop(loop, &rc->fe.ww);
    close(rc->fe.fd);
    rc->fe.fd = -1;
    rc->state = RC_FRONTIER;
    if (rc_send_back(rc, VX_RC_BEGIN_FAILED, &reason, 1) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void begin_msg(uint8_t *msg, size_t *mlen, const uint8_t binding[32],
                      const struct vx_cell_begin *b)
{
    size_t o = 0, nl = strlen(b->name);
    memcpy(msg, BEGIN_CTX, sizeof(BEGIN_CTX) - 1), o += sizeof(BEGIN_CTX) - 1;
    memcpy(msg + o, binding, 32), o += 32;
    msg[o++] = (uint8_t)(b->port >> 8);
    msg[o++] = (uint8_t)b->port;
    memcpy(msg + o, b->name, nl), o += nl;
    *mlen = o;
}

static void rc_begin(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    struct vx_cell_begin b;
    const struct vx_service_def *def = NULL;
    const struct sockaddr *target = NULL;
    socklen_t tlen = 0;
    uint8_t reason = 0;
    static struct vx_ratelim rl = VX_RATELIM_INIT(5000);

    if (vx_cell_begin_decode(d, len, &b) < 0) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    if (r->svcs)
        def = vx_services_find(r->svcs, b.name);
    if (!def || def->hidden || vx_service_route(def, b.port, &target, &tlen) < 0) {
        reason = VX_CR_NOTFOUND;
    } else if (def->route == VX_SERVICE_ROUTE_DIRECT) {
        reason = VX_CR_ROUTE; /* route: direct, no circuits */
    } else if (b.flags & VX_CELL_BEGIN_AUTH) {
        uint8_t msg[sizeof(BEGIN_CTX) + 32 + 2 + VX_CELL_NAME_MAX], id[VX_NODE_ID_LEN];
        size_t ml;
        begin_msg(msg, &ml, rc->binding, &b);
        vx_node_id_from_pk(b.pk, id);
        if (vx_verify(b.pk, msg, ml, b.sig) < 0)
            reason = VX_CR_DENIED;
        else if (!vx_service_allowed(def, id))
            reason = VX_CR_DENIED;
    } else if (def->nallow > 0) {
        reason = VX_CR_DENIED; /* anonymous clients cannot pass an allow list */
    }
    if (reason) {
        vx_log_rl(&rl, LD_PATH, VX_LOG_INFO, "relay: circuit asked for %s:%u: %s", b.name, b.port,
                  vx_cell_reason_str(reason));
        if (rc_send_back(rc, VX_RC_BEGIN_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    int fd = socket(target->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, target, tlen) < 0 && errno != EINPROGRESS)) {
        if (fd >= 0)
            close(fd);
        reason = VX_CR_REFUSED;
        if (rc_send_back(rc, VX_RC_BEGIN_FAILED, &reason, 1) < 0)
            rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    rc->state = RC_EXIT_CONNECTING;
    rc->fe.fd = fd;
    ev_io_init(&rc->fe.ww, exit_connect_cb, fd, EV_WRITE);
    rc->fe.ww.data = rc;
    ev_io_start(r->loop, &rc->fe.ww);
    ev_timer_stop(r->loop, &rc->timer);
    ev_init(&rc->timer, exit_connect_timeout);
    ev_timer_set(&rc->timer, VX_SERVICE_CONNECT_TIMEOUT_MS / 1000.0, 0);
    ev_timer_start(r->loop, &rc->timer);
}

/* hidden services: introduction and rendezvous points */

static struct rcirc *rc_find(struct vx_relay *r, enum rc_state st, const uint8_t *key, size_t klen)
{
    for (struct rcirc *x = r->rcs; x; x = x->next)
        if (x->state == st && sodium_memcmp(x->hskey, key, klen) == 0)
            return x;
    return NULL;
}

static void rc_est_intro(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    struct vx_cell_estintro e;
    uint8_t msg[VX_CELL_ESTINTRO_MSG];
    if (vx_cell_estintro_decode(d, len, &e) < 0) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    vx_cell_estintro_msg(rc->binding, e.auth_key, msg);
    if (vx_verify(e.auth_key, msg, sizeof(msg), e.sig) < 0) {
        log_info_rl(LD_PATH, "intro point: ESTABLISH_INTRO with a bad signature; closing");
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    /* a service re-establishing through a new circuit replaces the old one */
    struct rcirc *old;
    while ((old = rc_find(r, RC_INTRO, e.auth_key, 32)) != NULL)
        rc_kill(old, 1, 0, VX_CR_REQUESTED);
    memcpy(rc->hskey, e.auth_key, 32);
    rc->state = RC_INTRO;
    r->st.intro_established++;
    if (rc_send_back(rc, VX_RC_INTRO_ESTABLISHED, NULL, 0) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void rc_introduce(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    uint8_t key[32], ack = VX_CELL_ACK_OK;
    struct rcirc *svc = NULL;
    if (vx_intro_auth_key(d, len, key) < 0) {
        ack = VX_CELL_ACK_INVALID;
    } else if (!(svc = rc_find(r, RC_INTRO, key, 32))) {
        ack = VX_CELL_ACK_UNKNOWN;
        r->st.introduce_unknown++;
    } else if (rc_send_back(svc, VX_RC_INTRODUCE2, d, len) < 0) {
        rc_kill(svc, 1, 0, VX_CR_INTERNAL);
        ack = VX_CELL_ACK_UNKNOWN;
        r->st.introduce_unknown++;
    } else {
        r->st.introduces++;
    }
    if (rc_send_back(rc, VX_RC_INTRODUCE_ACK, &ack, 1) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void rc_est_rend(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    if (len != VX_CELL_COOKIE_LEN || rc_find(r, RC_REND_WAIT, d, len)) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    memset(rc->hskey, 0, sizeof(rc->hskey));
    memcpy(rc->hskey, d, len);
    rc->state = RC_REND_WAIT;
    ev_timer_stop(r->loop, &rc->timer);
    ev_timer_set(&rc->timer, REND_WAIT_S, 0);
    ev_timer_start(r->loop, &rc->timer);
    if (rc_send_back(rc, VX_RC_REND_ESTABLISHED, NULL, 0) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void rc_rend1(struct rcirc *rc, const uint8_t *d, size_t len)
{
    struct vx_relay *r = rc->r;
    uint8_t cookie[VX_INTRO_COOKIE_LEN], r2[VX_REND2_LEN];
    struct rcirc *cl;
    if (vx_rend1_split(d, len, cookie, r2) < 0) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    if (!(cl = rc_find(r, RC_REND_WAIT, cookie, sizeof(cookie)))) {
        r->st.rend_unmatched++;
        log_info_rl(LD_PATH, "rendezvous point: RENDEZVOUS1 for an unknown cookie");
        rc_kill(rc, 1, 0, VX_CR_NOTFOUND);
        return;
    }
    ev_timer_stop(r->loop, &cl->timer);
    sodium_memzero(cl->hskey, sizeof(cl->hskey));
    if (rc_send_back(cl, VX_RC_RENDEZVOUS2, r2, sizeof(r2)) < 0) {
        rc_kill(cl, 1, 0, VX_CR_INTERNAL);
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    cl->state = rc->state = RC_JOINED;
    cl->peer = rc;
    rc->peer = cl;
    r->st.rend_joined++;
}

/* RC_JOINED: a cell from one side, our layer opened; the rest (sealed end to
 * end) goes to the other side under our backward layer there. */
static void rc_join_forward(struct rcirc *rc, uint8_t *body, size_t len)
{
    struct rcirc *p = rc->peer;
    if (!p || len == 0 || len + VX_CELL_TAG_LEN > VX_CELL_BODY_MAX) {
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
        return;
    }
    if (vx_chan_seal(p->bwd, body, len, NULL, 0) < 0) {
        rc_kill(rc, 1, 1, VX_CR_INTERNAL);
        return;
    }
    body -= VX_CELL_HDR_LEN;
    vx_cell_hdr_encode(body, VX_CELL_RELAY, len + VX_CELL_TAG_LEN);
    if (link_queue(&p->pl, body, VX_CELL_HDR_LEN + len + VX_CELL_TAG_LEN) < 0) {
        rc_kill(rc, 1, 1, VX_CR_INTERNAL);
        return;
    }
    rc->r->st.bytes_relayed += link_flush(&p->pl, SIZE_MAX);
}

/* previous hop link */

static void rc_create(struct rcirc *rc, const uint8_t *body, size_t len)
{
    struct vx_cell_create c;
    struct vx_cell_created out;
    struct vx_onion_keys k;
    uint8_t ob[VX_CELL_CREATED_LEN];
    if (rc->state != RC_WAIT_CREATE || vx_cell_create_decode(body, len, &c) < 0 ||
        vx_onion_server(rc->r->id, &c, &out, &k) < 0) {
        rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    }
    rc->fwd = vx_chan_new(k.aead, k.fwd);
    rc->bwd = vx_chan_new(k.aead, k.bwd);
    memcpy(rc->binding, k.binding, 32);
    vx_onion_keys_wipe(&k);
    if (!rc->fwd || !rc->bwd) {
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
        return;
    }
    ev_timer_stop(rc->r->loop, &rc->timer);
    rc->state = RC_FRONTIER;
    rc->r->st.circuits_total++;
    vx_cell_created_encode(&out, ob);
    if (link_send_cell(&rc->pl, VX_CELL_CREATED, ob, sizeof(ob)) < 0)
        rc_kill(rc, 1, 0, VX_CR_INTERNAL);
}

static void rc_prev_cell(struct link *l, uint8_t cmd, uint8_t *body, size_t len)
{
    struct rcirc *rc = l->owner;
    uint8_t rcmd;
    const uint8_t *d;
    size_t dlen;

    switch (cmd) {
    case VX_CELL_CREATE:
        rc_create(rc, body, len);
        return;
    case VX_CELL_DESTROY:
        rc_kill(rc, 0, 1, len == 1 ? body[0] : VX_CR_PROTOCOL);
        return;
    case VX_CELL_RELAY:
        break;
    default:
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
        return;
    }
    if (rc->state == RC_WAIT_CREATE || len < VX_CELL_TAG_LEN) {
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
        return;
    }
    if (vx_chan_open(rc->fwd, body, len, NULL, 0) < 0) {
        log_warn_rl(LD_PATH, "relay: a cell failed authentication; destroying the circuit");
        rc->r->st.crypto_failures++;
        rc_kill(rc, 1, 1, VX_CR_CRYPTO);
        return;
    }
    len -= VX_CELL_TAG_LEN;
    if (rc->state == RC_RELAYING) {
        if (rc->r->tap)
            rc->r->tap(body, len, 1, rc->r->tap_arg);
        body -= VX_CELL_HDR_LEN;
        vx_cell_hdr_encode(body, VX_CELL_RELAY, len);
        if (rc_forward(rc, &rc->nl, body, VX_CELL_HDR_LEN + len) < 0)
            rc_kill(rc, 1, 1, VX_CR_INTERNAL);
        return;
    }
    if (rc->state == RC_JOINED) {
        rc_join_forward(rc, body, len);
        return;
    }
    if (vx_relay_payload_decode(body, len, &rcmd, &d, &dlen) < 0) {
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
        return;
    }
    switch (rcmd) {
    case VX_RC_EXTEND:
        if (rc->state != RC_FRONTIER) {
            rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
            return;
        }
        rc_extend(rc, d, dlen);
        return;
    case VX_RC_BEGIN:
        if (rc->state != RC_FRONTIER) {
            rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
            return;
        }
        rc_begin(rc, d, dlen);
        return;
    case VX_RC_DATA:
        if (rc->state != RC_EXIT_OPEN || fdend_put(&rc->fe, d, dlen) < 0)
            rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
        return;
    case VX_RC_END:
        if (rc->state != RC_EXIT_OPEN || rc->fe.peer_end) {
            rc_kill(rc, 1, 0, VX_CR_PROTOCOL);
            return;
        }
        rc->fe.peer_end = 1;
        fdend_try_shut(&rc->fe);
        return;
    case VX_RC_ESTABLISH_INTRO:
    case VX_RC_INTRODUCE1:
    case VX_RC_ESTABLISH_REND:
    case VX_RC_RENDEZVOUS1:
        if (rc->state != RC_FRONTIER) {
            rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
            return;
        }
        if (rcmd == VX_RC_ESTABLISH_INTRO)
            rc_est_intro(rc, d, dlen);
        else if (rcmd == VX_RC_INTRODUCE1)
            rc_introduce(rc, d, dlen);
        else if (rcmd == VX_RC_ESTABLISH_REND)
            rc_est_rend(rc, d, dlen);
        else
            rc_rend1(rc, d, dlen);
        return;
    default:
        rc_kill(rc, 1, 1, VX_CR_PROTOCOL);
    }
}

static int rc_prev_room(struct link *l)
{
    struct rcirc *rc = l->owner;
    switch (rc->state) {
    case RC_RELAYING:
        return link_has_room(&rc->nl);
    case RC_EXIT_OPEN:
        return fdend_has_room(&rc->fe);
    case RC_JOINED:
        return rc->peer && link_has_room(&rc->peer->pl);
    default:
        return 1;
    }
}

static void rc_prev_writable(struct link *l)
{
    struct rcirc *rc = l->owner;
    if (rc->state == RC_RELAYING)
        rc_pump(rc);
    else
        link_flush(l, SIZE_MAX);
}

static void rc_prev_drained(struct link *l)
{
    struct rcirc *rc = l->owner;
    if (rc->state == RC_RELAYING)
        link_resume(&rc->nl);
    else if (rc->state == RC_EXIT_OPEN)
        fdend_update(&rc->fe);
    else if (rc->state == RC_JOINED && rc->peer)
        link_resume(&rc->peer->pl);
}

static void rc_prev_gone(struct link *l, int err)
{
    struct rcirc *rc = l->owner;
    rc_kill(rc, 0, 1, VX_CR_HOP_GONE);
}

static const struct link_ops prev_ops = {rc_prev_cell, rc_prev_room, rc_prev_writable,
                                         rc_prev_drained, rc_prev_gone};

static const struct vx_stream_cbs prev_cbs = {NULL, link_on_close};

void vx_relay_accept(struct vx_stream *s, const struct vx_stream_target *tgt, void *arg)
{
    struct vx_relay *r = arg;
    const uint8_t *pid = vx_stream_peer_id(s);
    uint32_t from_prev = 0;
    if (tgt->kind != VX_TARGET_RELAY) {
        vx_stream_accept(s, VX_ERR_REFUSED, NULL, NULL);
        return;
    }
    for (struct rcirc *x = r->rcs; x; x = x->next)
        if (memcmp(x->prev_id, pid, VX_NODE_ID_LEN) == 0)
            from_prev++;
    if (r->st.circuits >= r->conf.max_circuits || from_prev >= r->conf.max_per_prev) {
        r->st.refused_limit++;
        log_warn_rl(LD_PATH,
                    "relay: circuit limit reached (%u total, %u per previous hop); "
                    "refusing a circuit",
                    r->conf.max_circuits, r->conf.max_per_prev);
        vx_stream_accept(s, VX_ERR_LIMIT, NULL, NULL);
        return;
    }
    struct rcirc *rc = calloc(1, sizeof(*rc));
    if (!rc)
        abort();
    rc->r = r;
    rc->state = RC_WAIT_CREATE;
    rc->fe.fd = -1;
    rc->fe.loop = r->loop;
    memcpy(rc->prev_id, pid, VX_NODE_ID_LEN);
    link_init(&rc->pl, &prev_ops, rc);
    link_init(&rc->nl, &next_ops, rc);
    tb_init(&rc->tb, r->conf.rate_circuit, r->conf.burst_circuit);
    ev_timer_init(&rc->timer, rc_timer_cb, r->conf.setup_timeout_ms / 1000.0, 0);
    rc->timer.data = rc;
    ev_timer_start(r->loop, &rc->timer);
    rc->next = r->rcs;
    if (r->rcs)
        r->rcs->prev = rc;
    r->rcs = rc;
    r->st.circuits++;
    rc->pl.s = s;
    rc->pl.open = 1;
    vx_stream_accept(s, 0, &prev_cbs, &rc->pl);
    vx_stream_attach(s, &link_io, &rc->pl);
}

/* ---------------------------------------------------------------------- */
/* client circuits */

enum c_state {
    C_OPENING, /* stream to hop 0 opening */
    C_CREATE,  /* CREATE sent to hop 0 */
    C_EXTEND,  /* EXTEND sent through the built hops */
    C_BEGIN,   /* BEGIN sent to the destination */
    C_OPEN,
    C_DEAD,
};

struct chop {
    struct vx_circuit_node node;
    uint8_t id[VX_NODE_ID_LEN];
    struct vx_onion_client hs;
    struct vx_chan *fwd, *bwd;
    uint8_t binding[32];
};

struct vx_circuit {
    struct vx_relay *r;
    struct vx_circuit *next, *prev, *reap_next;
    enum c_state state;
    struct vx_circuit_cbs cbs;
    void *arg;
    struct link l;
    unsigned n, built;
    struct chop hop[VX_CIRCUIT_MAX_HOPS];
    char service[VX_CELL_NAME_MAX + 1];
    uint16_t port;
    int auth, explicit_path;
    unsigned attempts, max_attempts;
    uint64_t attempt_ms;  /* loop time the attempt started */
    uint64_t deadline_ms; /* of the whole build; 0: none */
    uint8_t avoid[3 * VX_CIRCUIT_MAX_HOPS][VX_NODE_ID_LEN];
    size_t navoid;
    ev_timer timer;
    struct fdend fe;
    int spliced;
    int bare;      /* no BEGIN: open once the last hop is built (hidden services) */
    int e2e;       /* hop[n] is the end-to-end layer with the far end of a rendezvous */
    int e2e_waits; /* the far end closes the circuit once both directions are done */
    vx_circuit_cell_fn on_cell;
    size_t nguards;
    uint8_t guard_ids[VX_CIRCUIT_MAX_GUARDS][VX_NODE_ID_LEN];
};

/* The hop that originates and receives our relay payloads. */
static unsigned circ_far(const struct vx_circuit *c)
{
    return c->e2e ? c->n : c->n - 1;
}

static void circ_park(struct vx_circuit *c)
{
    struct vx_relay *r = c->r;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->circs = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->reap_next = r->reap_circs;
    r->reap_circs = c;
    r->st.client_circuits--;
}

static void circ_clear_attempt(struct vx_circuit *c, int destroy, uint8_t reason)
{
    link_close(&c->l, destroy, reason);
    for (unsigned i = 0; i < c->n + (c->e2e ? 1u : 0u); i++) {
        vx_chan_free(c->hop[i].fwd);
        vx_chan_free(c->hop[i].bwd);
        c->hop[i].fwd = c->hop[i].bwd = NULL;
        sodium_memzero(&c->hop[i].hs, sizeof(c->hop[i].hs));
        sodium_memzero(c->hop[i].binding, 32);
    }
    c->built = 0;
    c->e2e = c->e2e_waits = 0;
}

/* End of the circuit: report (once) and park. */
static void circ_end(struct vx_circuit *c, int err, int destroy, uint8_t reason)
{
    if (c->state == C_DEAD)
        return;
    int was_open = c->state == C_OPEN;
    c->state = C_DEAD;
    ev_timer_stop(c->r->loop, &c->timer);
    circ_clear_attempt(c, destroy, reason);
    fdend_close(&c->fe);
    circ_park(c);
    if (was_open) {
        if (c->cbs.on_close)
            c->cbs.on_close(c, err, c->arg);
    } else if (c->cbs.on_open) {
        c->cbs.on_open(c, err, c->arg);
    }
}

static int circ_start_attempt(struct vx_circuit *c);

/* ---- relays marked down (client side) ---- */

static uint64_t loop_ms(const struct vx_relay *r)
{
    return (uint64_t)(ev_now(r->loop) * 1000.0);
}

static struct downmark *down_find(const struct vx_relay *r, const uint8_t *id)
{
    for (size_t i = 0; i < DOWN_MAX; i++)
        if (r->down[i].until_ms && memcmp(r->down[i].id, id, VX_NODE_ID_LEN) == 0)
            return (struct downmark *)&r->down[i];
    return NULL;
}

uint64_t vx_relay_down_left(const struct vx_relay *r, const uint8_t id[VX_NODE_ID_LEN])
{
    const struct downmark *m = down_find(r, id);
    uint64_t now = loop_ms(r);
    return m && m->until_ms > now ? m->until_ms - now : 0;
}

/* Pass over hop i of c for a while: it failed (or is the likeliest cause of)
 * a build step.  The destination is the target, never marked. */
static void circ_mark_down(struct vx_circuit *c, unsigned i)
{
    struct vx_relay *r = c->r;
    if (c->explicit_path || i >= c->n - 1) /* NO_HOP too */
        return;
    struct downmark *m = down_find(r, c->hop[i].id);
    if (!m) {
        /* a free slot, else the mark that ends first */
        m = &r->down[0];
        for (size_t k = 0; k < DOWN_MAX && m->until_ms; k++)
            if (r->down[k].until_ms < m->until_ms)
                m = &r->down[k];
        memcpy(m->id, c->hop[i].id, VX_NODE_ID_LEN);
    }
    char idb[VX_NODE_ID_STRLEN + 1];
    vx_node_id_to_str(c->hop[i].id, idb, sizeof(idb));
    log_info(LD_PATH, "circuit: relay %.12s marked down for %u s", idb, r->conf.down_ms / 1000);
    m->until_ms = loop_ms(r) + r->conf.down_ms;
    r->st.client_down++;
}

/* Relays marked down now, into excl (room for DOWN_MAX). */
static size_t down_list(const struct vx_relay *r, uint8_t (*excl)[VX_NODE_ID_LEN])
{
    size_t n = 0;
    uint64_t now = loop_ms(r);
    for (size_t i = 0; i < DOWN_MAX; i++)
        if (r->down[i].until_ms > now)
            memcpy(excl[n++], r->down[i].id, VX_NODE_ID_LEN);
    return n;
}

/* How long the next build step (hop c->built, or BEGIN) may go unanswered:
 * VX_CIRCUIT_STEP_RTTS times the round trips it needs, the larger of the
 * registry's RTTs of the hops up to it and the time the earlier hops took;
 * at least VX_CIRCUIT_STEP_MIN_MS, at most setup_timeout_ms; and with a
 * deadline no more than this attempt's share of the time left (each
 * remaining attempt gets as much), unless that is below the floor. */
static uint64_t circ_step_ms(const struct vx_circuit *c, uint64_t now)
{
    const struct vx_relay *r = c->r;
    uint64_t rtt = 0, cap = r->conf.setup_timeout_ms;
    unsigned last = c->built < c->n ? c->built : c->n - 1;
    for (unsigned i = 0; i <= last; i++)
        for (size_t k = 0; k < r->npool; k++)
            if (memcmp(r->pool[k].id, c->hop[i].id, VX_NODE_ID_LEN) == 0) {
                rtt += r->pool[k].rtt_ms;
                break;
            }
    uint64_t spent = now > c->attempt_ms ? now - c->attempt_ms : 0;
    uint64_t t = VX_CIRCUIT_STEP_RTTS * (rtt > spent ? rtt : spent);
    uint64_t floor = cap < VX_CIRCUIT_STEP_MIN_MS ? cap : VX_CIRCUIT_STEP_MIN_MS;
    t = t < floor ? floor : t > cap ? cap : t;
    if (c->deadline_ms) {
        uint64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
        unsigned tries = c->max_attempts > c->attempts ? c->max_attempts - c->attempts + 1 : 1;
        uint64_t share = left / tries;
        if (share < floor)
            share = left < floor ? left : floor;
        if (t > share)
            t = share;
    }
    return t ? t : 1;
}

/* (Re)start the step timer for the next build step. */
static void circ_arm(struct vx_circuit *c)
{
    struct vx_relay *r = c->r;
    ev_timer_stop(r->loop, &c->timer);
    ev_timer_set(&c->timer, (double)circ_step_ms(c, loop_ms(r)) / 1000.0, 0);
    ev_timer_start(r->loop, &c->timer);
}

static int retryable(int err)
{
    return err != VX_ERR_NOTFOUND && err != VX_ERR_DENIED && err != VX_ERR_REFUSED &&
           err != VX_ERR_INVAL;
}

#define NO_HOP (~0u)

/* The build failed at hop `bad` (the one being added, or the relay taken to
 * be the cause); `also`: another relay to avoid (or NO_HOP); down: mark
 * them down for the next circuits too. */
static void circ_fail_at(struct vx_circuit *c, int err, unsigned bad, unsigned also, int down,
                         int destroy, uint8_t reason)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_OPEN) {
        circ_end(c, err, destroy, reason);
        return;
    }
    char idb[VX_NODE_ID_STRLEN + 1];
    vx_node_id_to_str(c->hop[bad < c->n ? bad : 0].id, idb, sizeof(idb));
    log_info(LD_PATH, "circuit: attempt %u failed at hop %u (%.12s): %s", c->attempts, bad + 1, idb,
             vx_strerror(err));
    ev_timer_stop(c->r->loop, &c->timer);
    circ_clear_attempt(c, destroy, reason);
    if (down) {
        circ_mark_down(c, bad);
        if (also != NO_HOP)
            circ_mark_down(c, also);
    }
    if (c->explicit_path || c->attempts >= c->max_attempts || !retryable(err) || bad + 1 >= c->n ||
        (c->deadline_ms && loop_ms(c->r) >= c->deadline_ms)) {
        circ_end(c, err, 0, 0);
        return;
    }
    unsigned sus[2] = {bad, also};
    for (unsigned k = 0; k < 2; k++)
        if (sus[k] != NO_HOP && sus[k] + 1 < c->n &&
            c->navoid < sizeof(c->avoid) / sizeof(c->avoid[0]))
            memcpy(c->avoid[c->navoid++], c->hop[sus[k]].id, VX_NODE_ID_LEN);
    c->r->st.client_retries++;
    int r = circ_start_attempt(c);
    if (r < 0)
        circ_end(c, err, 0, 0);
}

static void circ_fail(struct vx_circuit *c, int err, unsigned bad, int destroy, uint8_t reason)
{
    circ_fail_at(c, err, bad, NO_HOP, 0, destroy, reason);
}

/* A build step went unanswered.  Any hop up to the one being added may be
 * stuck (a frozen process answers nothing); the likeliest are the newest
 * hop and the one asked to extend to it.  While extending to the
 * destination (or waiting for its BEGIN answer) the last relay is the
 * suspect: the destination is the target and cannot be avoided. */
static void circ_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_circuit *c = w->data;
    unsigned k = c->built < c->n ? c->built : c->n - 1, also = NO_HOP;
    if (c->n >= 2 && k == c->n - 1) {
        log_info(LD_PATH, "circuit: no answer from the destination's side; the last relay is "
                          "taken for stuck");
        k = c->n - 2;
    } else if (k > 0) {
        also = k - 1;
    }
    circ_fail_at(c, VX_ERR_TIMEOUT, k, also, 1, 1, VX_CR_TIMEOUT);
}

/* Seal a relay payload for hop `to` (innermost first) and send it. */
static int circ_send(struct vx_circuit *c, unsigned to, uint8_t rcmd, uint8_t *buf,
                     const uint8_t *data, size_t len)
{
    size_t plen = 0;
    int r = vx_relay_payload_encode(rcmd, data, len, buf + VX_CELL_HDR_LEN, VX_CELL_PAYLOAD_MAX,
                                    &plen);
    if (r < 0)
        return r;
    for (int i = (int)to; i >= 0; i--) {
        if ((r = vx_chan_seal(c->hop[i].fwd, buf + VX_CELL_HDR_LEN, plen, NULL, 0)) < 0)
            return r;
        plen += VX_CELL_TAG_LEN;
    }
    vx_cell_hdr_encode(buf, VX_CELL_RELAY, plen);
    return link_send(&c->l, buf, VX_CELL_HDR_LEN + plen);
}

static void circ_extend(struct vx_circuit *c)
{
    uint8_t buf[CELL_BUF + VX_CIRCUIT_MAX_HOPS * VX_CELL_TAG_LEN];
    uint8_t eb[VX_CELL_EXTEND_MAX];
    struct vx_cell_extend e;
    size_t elen = 0;
    struct chop *h = &c->hop[c->built];
    memset(&e, 0, sizeof(e));
    memcpy(e.node_id, h->id, VX_NODE_ID_LEN);
    memcpy(&e.addr, &h->node.addr, h->node.addrlen);
    e.addrlen = h->node.addrlen;
    uint8_t aead = vx_aead_aesgcm_available() ? VX_AEAD_AESGCM : VX_AEAD_CHACHAPOLY;
    if (vx_onion_client_start(&h->hs, h->node.pk, aead, &e.create) < 0 ||
        vx_cell_extend_encode(&e, eb, sizeof(eb), &elen) < 0) {
        circ_fail(c, VX_ERR_INVAL, c->built, 1, VX_CR_INTERNAL);
        return;
    }
    c->state = C_EXTEND;
    if (circ_send(c, c->built - 1, VX_RC_EXTEND, buf, eb, elen) < 0)
        circ_fail(c, VX_ERR_INTERNAL, c->built, 1, VX_CR_INTERNAL);
}

static void circ_begin(struct vx_circuit *c)
{
    uint8_t buf[CELL_BUF + VX_CIRCUIT_MAX_HOPS * VX_CELL_TAG_LEN];
    uint8_t bb[VX_CELL_BEGIN_MAX];
    struct vx_cell_begin b;
    size_t blen = 0;
    memset(&b, 0, sizeof(b));
    b.port = c->port;
    memcpy(b.name, c->service, sizeof(b.name));
    if (c->auth) {
        uint8_t msg[sizeof(BEGIN_CTX) + 32 + 2 + VX_CELL_NAME_MAX];
        size_t ml;
        b.flags |= VX_CELL_BEGIN_AUTH;
        memcpy(b.pk, c->r->id->pk, VX_PK_LEN);
        begin_msg(msg, &ml, c->hop[c->n - 1].binding, &b);
        vx_sign(c->r->id, msg, ml, b.sig);
    }
    if (vx_cell_begin_encode(&b, bb, sizeof(bb), &blen) < 0) {
        circ_end(c, VX_ERR_INVAL, 1, VX_CR_INTERNAL);
        return;
    }
    c->state = C_BEGIN;
    if (circ_send(c, c->n - 1, VX_RC_BEGIN, buf, bb, blen) < 0)
        circ_fail(c, VX_ERR_INTERNAL, c->n - 1, 1, VX_CR_INTERNAL);
}

/* hop `i` answered our handshake */
static void circ_hop_done(struct vx_circuit *c, unsigned i, const uint8_t *body, size_t len)
{
    struct vx_cell_created cr;
    struct vx_onion_keys k;
    struct chop *h = &c->hop[i];
    if (vx_cell_created_decode(body, len, &cr) < 0) {
        circ_fail(c, VX_ERR_PROTO, i, 1, VX_CR_PROTOCOL);
        return;
    }
    if (vx_onion_client_finish(&h->hs, &cr, &k) < 0) {
        log_warn_rl(LD_PATH, "circuit: hop %u failed to prove its key (not the relay we chose?)",
                    i + 1);
        circ_fail(c, VX_ERR_CRYPTO, i, 1, VX_CR_CRYPTO);
        return;
    }
    h->fwd = vx_chan_new(k.aead, k.fwd);
    h->bwd = vx_chan_new(k.aead, k.bwd);
    memcpy(h->binding, k.binding, 32);
    vx_onion_keys_wipe(&k);
    struct downmark *m = down_find(c->r, h->id);
    if (m)
        m->until_ms = 0; /* it answered: up again */
    c->built = i + 1;
    if (c->built < c->n || !c->bare)
        circ_arm(c);
    if (c->built < c->n) {
        circ_extend(c);
    } else if (c->bare) {
        ev_timer_stop(c->r->loop, &c->timer);
        c->state = C_OPEN;
        c->r->st.client_built++;
        if (c->cbs.on_open)
            c->cbs.on_open(c, 0, c->arg);
    } else {
        circ_begin(c);
    }
}

static void circ_fd_data(struct fdend *f, uint8_t *buf, size_t n)
{
    struct vx_circuit *c = f->owner;
    if (circ_send(c, circ_far(c), VX_RC_DATA, buf, buf + FD_DATA_OFF, n) < 0)
        circ_end(c, VX_ERR_INTERNAL, 1, VX_CR_INTERNAL);
}

static void circ_check_done(struct vx_circuit *c)
{
    /* closing resets our stream: what it still holds for the far end of a
     * rendezvous would be lost, so that end waits for the DESTROY */
    if (c->state == C_OPEN && fdend_done(&c->fe) && link_qlen(&c->l) == 0 && !c->e2e_waits)
        circ_end(c, 0, 1, VX_CR_REQUESTED);
}

static void circ_fd_eof(struct fdend *f)
{
    struct vx_circuit *c = f->owner;
    uint8_t buf[CELL_BUF + VX_CIRCUIT_MAX_HOPS * VX_CELL_TAG_LEN];
    if (circ_send(c, circ_far(c), VX_RC_END, buf, NULL, 0) < 0) {
        circ_end(c, VX_ERR_INTERNAL, 1, VX_CR_INTERNAL);
        return;
    }
    circ_check_done(c);
}

static int circ_fd_room(struct fdend *f)
{
    struct vx_circuit *c = f->owner;
    return c->state == C_OPEN && link_has_room(&c->l);
}

static void circ_fd_drained(struct fdend *f)
{
    struct vx_circuit *c = f->owner;
    link_resume(&c->l);
    circ_check_done(c);
}

static void circ_fd_gone(struct fdend *f, int err)
{
    struct vx_circuit *c = f->owner;
    circ_end(c, err, 1, VX_CR_REQUESTED);
}

static const struct fdend_ops circ_fd_ops = {circ_fd_data, circ_fd_eof, circ_fd_room,
                                             circ_fd_drained, circ_fd_gone};

static void circ_cell(struct link *l, uint8_t cmd, uint8_t *body, size_t len)
{
    struct vx_circuit *c = l->owner;
    uint8_t rcmd;
    const uint8_t *d;
    size_t dlen;
    unsigned from;

    if (cmd == VX_CELL_CREATED && c->state == C_CREATE) {
        circ_hop_done(c, 0, body, len);
        return;
    }
    if (cmd == VX_CELL_DESTROY) {
        uint8_t reason = len == 1 ? body[0] : VX_CR_PROTOCOL;
        if (c->state == C_OPEN && c->e2e_waits && reason == VX_CR_REQUESTED && fdend_done(&c->fe)) {
            circ_end(c, 0, 0, 0); /* the far end closed after a clean finish */
            return;
        }
        log_info(LD_PATH, "circuit destroyed by a relay: %s", vx_cell_reason_str(reason));
        circ_fail(c, vx_cell_reason_to_err(reason), c->built < c->n ? c->built : c->n - 1, 0, 0);
        return;
    }
    if (cmd != VX_CELL_RELAY || c->built == 0) {
        circ_fail(c, VX_ERR_PROTO, c->built, 1, VX_CR_PROTOCOL);
        return;
    }
    /* peel every built layer: only the newest hop originates relay payloads */
    from = c->built - 1;
    for (unsigned i = 0; i <= from; i++) {
        if (len < VX_CELL_TAG_LEN || vx_chan_open(c->hop[i].bwd, body, len, NULL, 0) < 0) {
            log_warn_rl(LD_PATH, "circuit: a cell failed authentication at layer %u", i + 1);
            circ_fail(c, VX_ERR_CRYPTO, i, 1, VX_CR_CRYPTO);
            return;
        }
        len -= VX_CELL_TAG_LEN;
    }
    if (c->e2e) {
        /* after a rendezvous everything comes from the far end */
        if (len < VX_CELL_TAG_LEN || vx_chan_open(c->hop[c->n].bwd, body, len, NULL, 0) < 0) {
            log_warn_rl(LD_PATH, "circuit: a cell failed end-to-end authentication");
            circ_end(c, VX_ERR_CRYPTO, 1, VX_CR_CRYPTO);
            return;
        }
        len -= VX_CELL_TAG_LEN;
    }
    if (vx_relay_payload_decode(body, len, &rcmd, &d, &dlen) < 0) {
        circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
        return;
    }
    if (c->bare && c->state == C_OPEN && rcmd != VX_RC_DATA && rcmd != VX_RC_END) {
        if (!c->on_cell) {
            circ_end(c, VX_ERR_PROTO, 1, VX_CR_PROTOCOL);
            return;
        }
        c->on_cell(c, rcmd, d, dlen, c->arg);
        return;
    }
    if (c->bare && c->state == C_OPEN && !c->spliced) {
        /* before the splice: keep what the far end sends (capped by circ_room) */
        if (c->fe.peer_end) {
            circ_end(c, VX_ERR_PROTO, 1, VX_CR_PROTOCOL);
            return;
        }
        if (rcmd == VX_RC_END) {
            c->fe.peer_end = 1;
            return;
        }
        if (!c->fe.wq)
            c->fe.wq = vx_buf_new(Q_CAP);
        if (vx_buf_add(c->fe.wq, d, dlen) < 0)
            circ_end(c, VX_ERR_LIMIT, 1, VX_CR_RESOURCE);
        return;
    }
    switch (rcmd) {
    case VX_RC_EXTENDED:
        if (c->state != C_EXTEND) {
            circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
            return;
        }
        circ_hop_done(c, c->built, d, dlen);
        return;
    case VX_RC_EXTEND_FAILED:
        if (c->state != C_EXTEND) {
            circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
            return;
        }
        log_info(LD_PATH, "circuit: hop %u could not extend: %s", c->built,
                 vx_cell_reason_str(dlen == 1 ? d[0] : 0));
        /* the next hop could not be reached (or did not answer) */
        circ_fail_at(c,
                     dlen == 1 && d[0] == VX_CR_DISABLED ? VX_ERR_UNREACH
                                                         : vx_cell_reason_to_err(dlen ? d[0] : 0),
                     c->built, NO_HOP,
                     dlen == 1 && (d[0] == VX_CR_CONNECT || d[0] == VX_CR_TIMEOUT), 1,
                     VX_CR_REQUESTED);
        return;
    case VX_RC_CONNECTED:
        if (c->state != C_BEGIN) {
            circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
            return;
        }
        ev_timer_stop(c->r->loop, &c->timer);
        c->state = C_OPEN;
        c->r->st.client_built++;
        if (c->cbs.on_open)
            c->cbs.on_open(c, 0, c->arg);
        return;
    case VX_RC_BEGIN_FAILED: {
        int err = vx_cell_reason_to_err(dlen == 1 ? d[0] : 0);
        if (c->state != C_BEGIN) {
            circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
            return;
        }
        /* the destination answered: final, whatever the relays */
        c->explicit_path = 1;
        circ_fail(c, err, from, 1, VX_CR_REQUESTED);
        return;
    }
    case VX_RC_DATA:
        if (c->state != C_OPEN || !c->spliced || fdend_put(&c->fe, d, dlen) < 0)
            circ_end(c, VX_ERR_PROTO, 1, VX_CR_PROTOCOL);
        return;
    case VX_RC_END:
        if (c->state != C_OPEN || !c->spliced || c->fe.peer_end) {
            circ_end(c, VX_ERR_PROTO, 1, VX_CR_PROTOCOL);
            return;
        }
        c->fe.peer_end = 1;
        fdend_try_shut(&c->fe);
        circ_check_done(c);
        return;
    default:
        circ_fail(c, VX_ERR_PROTO, from, 1, VX_CR_PROTOCOL);
    }
}

static int circ_room(struct link *l)
{
    struct vx_circuit *c = l->owner;
    if (c->state == C_OPEN)
        return (c->spliced || c->bare) && fdend_has_room(&c->fe);
    return 1;
}

static void circ_writable(struct link *l)
{
    struct vx_circuit *c = l->owner;
    link_flush(l, SIZE_MAX);
    circ_check_done(c);
}

static void circ_drained(struct link *l)
{
    struct vx_circuit *c = l->owner;
    if (c->spliced)
        fdend_update(&c->fe);
}

static void circ_gone(struct link *l, int err)
{
    struct vx_circuit *c = l->owner;
    l->s = NULL;
    if (c->state == C_OPENING || c->state == C_CREATE) /* the first relay went */
        circ_fail_at(c, VX_ERR_UNREACH, 0, NO_HOP, 1, 0, 0);
    else
        circ_fail(c, VX_ERR_UNREACH, c->built, 0, 0);
}

static const struct link_ops circ_link_ops = {circ_cell, circ_room, circ_writable, circ_drained,
                                              circ_gone};

static void circ_stream_open(struct vx_stream *s, int err, void *arg)
{
    struct vx_circuit *c = ((struct link *)arg)->owner;
    if (c->l.s != s)
        return;
    if (err < 0) {
        c->l.s = NULL;
        circ_fail_at(c, err, 0, NO_HOP, 1, 0, 0); /* the first relay cannot be reached */
        return;
    }
    struct vx_cell_create cr;
    uint8_t body[VX_CELL_CREATE_LEN];
    uint8_t aead = vx_aead_aesgcm_available() ? VX_AEAD_AESGCM : VX_AEAD_CHACHAPOLY;
    c->l.open = 1;
    vx_stream_attach(s, &link_io, &c->l);
    if (vx_onion_client_start(&c->hop[0].hs, c->hop[0].node.pk, aead, &cr) < 0) {
        circ_fail(c, VX_ERR_INVAL, 0, 1, VX_CR_INTERNAL);
        return;
    }
    vx_cell_create_encode(&cr, body);
    c->state = C_CREATE;
    if (link_send_cell(&c->l, VX_CELL_CREATE, body, sizeof(body)) < 0)
        circ_fail(c, VX_ERR_INTERNAL, 0, 1, VX_CR_INTERNAL);
}

static const struct vx_stream_cbs circ_stream_cbs = {circ_stream_open, link_on_close};

static uint32_t rnd32(void *arg)
{
    return randombytes_random();
}

static int in_list(const uint8_t (*l)[VX_NODE_ID_LEN], size_t n, const uint8_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(l[i], id, VX_NODE_ID_LEN) == 0)
            return 1;
    return 0;
}

/* A usable guard in the pool (random among them), or SIZE_MAX: none given
 * or none left, and any relay may come first. */
static size_t pick_guard(struct vx_circuit *c, const uint8_t (*excl)[VX_NODE_ID_LEN], size_t ne)
{
    struct vx_relay *r = c->r;
    size_t cand[VX_CIRCUIT_MAX_GUARDS], nc = 0;
    for (size_t i = 0; i < r->npool && nc < VX_CIRCUIT_MAX_GUARDS; i++)
        if (in_list((const uint8_t(*)[VX_NODE_ID_LEN])c->guard_ids, c->nguards, r->pool[i].id) &&
            !in_list(excl, ne, r->pool[i].id))
            cand[nc++] = i;
    if (nc == 0) {
        if (c->nguards)
            log_info(LD_PATH, "circuit: no guard usable; any relay comes first");
        return SIZE_MAX;
    }
    return cand[randombytes_uniform((uint32_t)nc)];
}

/* Choose relays (unless explicit) and open the stream to hop 0. */
static int circ_start_attempt(struct vx_circuit *c)
{
    struct vx_relay *r = c->r;
    int err;
    c->attempts++;
    if (!c->explicit_path && c->n > 1) {
        uint8_t excl[3 + 3 * VX_CIRCUIT_MAX_HOPS + DOWN_MAX][VX_NODE_ID_LEN];
        size_t ne = 0, idx[VX_CIRCUIT_MAX_HOPS];
        memcpy(excl[ne++], r->id->node_id, VX_NODE_ID_LEN);
        memcpy(excl[ne++], c->hop[c->n - 1].id, VX_NODE_ID_LEN);
        for (size_t i = 0; i < c->navoid; i++)
            memcpy(excl[ne++], c->avoid[i], VX_NODE_ID_LEN);
        /* relays down lately come last: passed over while others remain */
        size_t nhard = ne, ndown = down_list(r, excl + ne);
        ne += ndown;
    again:;
        struct vx_select_opts o = {
                .hops = c->n - 1,
                .diversity = r->conf.diversity,
                .now = vx_time_unix(),
                .exclude = (const uint8_t(*)[VX_NODE_ID_LEN])excl,
                .nexclude = ne,
                .dest_addr = (const struct sockaddr *)&c->hop[c->n - 1].node.addr,
                .rnd = rnd32,
        };
        size_t first = 0, g = pick_guard(c, (const uint8_t(*)[VX_NODE_ID_LEN])excl, ne);
        if (g == SIZE_MAX && c->nguards && ndown) /* a guard down beats a relay that is none */
            g = pick_guard(c, (const uint8_t(*)[VX_NODE_ID_LEN])excl, nhard);
        if (g != SIZE_MAX) {
            /* the first hop is one of our guards; the others come from the pool */
            idx[0] = g;
            memcpy(excl[ne++], r->pool[g].id, VX_NODE_ID_LEN);
            o.nexclude = ne;
            o.hops = c->n - 2;
            first = 1;
        }
        int rr = o.hops ? vx_select_relays(r->pool, r->npool, &o, idx + first) : 0;
        if (rr == VX_ERR_NOTFOUND && ndown) {
            log_info(LD_PATH,
                     "circuit: too few relays for %u hops without the %zu marked down; "
                     "taking those too",
                     c->n, ndown);
            ne = nhard;
            ndown = 0;
            goto again;
        }
        if (rr < 0) {
            log_info(LD_PATH, "circuit: not enough suitable relays for %u hops", c->n);
            return rr;
        }
        for (unsigned i = 0; i + 1 < c->n; i++) {
            const struct vx_relay_cand *p = &r->pool[idx[i]];
            memcpy(c->hop[i].node.pk, p->pk, VX_PK_LEN);
            memcpy(&c->hop[i].node.addr, &p->addr, p->addrlen);
            c->hop[i].node.addrlen = p->addrlen;
            vx_node_id_from_pk(p->pk, c->hop[i].id);
        }
    }
    link_init(&c->l, &circ_link_ops, c);
    c->state = C_OPENING;
    c->built = 0;
    c->attempt_ms = loop_ms(r);
    circ_arm(c);
    struct vx_stream_target tgt = {.kind = VX_TARGET_RELAY};
    c->l.s = vx_transport_open(r->t, c->hop[0].id, (struct sockaddr *)&c->hop[0].node.addr,
                               c->hop[0].node.addrlen, &tgt, &circ_stream_cbs, &c->l, &err);
    if (!c->l.s) {
        ev_timer_stop(r->loop, &c->timer);
        return err;
    }
    return 0;
}

struct vx_circuit *vx_circuit_connect(struct vx_relay *r, const struct vx_circuit_req *req,
                                      const struct vx_circuit_cbs *cbs, void *arg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    unsigned n = req->hops ? req->hops : VX_CIRCUIT_DEFAULT_HOPS;
    if (n < 1 || n > VX_CIRCUIT_MAX_HOPS || !cbs || !cbs->on_open ||
        (req->service && strlen(req->service) > VX_CELL_NAME_MAX) ||
        req->nguards > VX_CIRCUIT_MAX_GUARDS) {
        *err = VX_ERR_INVAL;
        return NULL;
    }
    struct vx_circuit *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->r = r;
    c->n = n;
    c->cbs = *cbs;
    c->arg = arg;
    c->port = req->port;
    c->auth = req->auth;
    c->fe.fd = -1;
    c->fe.loop = r->loop;
    if (req->service)
        strcpy(c->service, req->service);
    c->bare = !req->service;
    c->nguards = req->nguards;
    for (size_t i = 0; i < req->nguards; i++)
        memcpy(c->guard_ids[i], req->guards[i], VX_NODE_ID_LEN);
    c->explicit_path = req->relays != NULL;
    c->max_attempts = r->conf.attempts ? r->conf.attempts : 1;
    c->deadline_ms = req->timeout_ms ? loop_ms(r) + req->timeout_ms : 0;
    c->hop[n - 1].node = req->dest;
    vx_node_id_from_pk(req->dest.pk, c->hop[n - 1].id);
    for (unsigned i = 0; req->relays && i + 1 < n; i++) {
        c->hop[i].node = req->relays[i];
        vx_node_id_from_pk(req->relays[i].pk, c->hop[i].id);
    }
    ev_timer_init(&c->timer, circ_timer_cb, 1, 0);
    c->timer.data = c;
    c->next = r->circs;
    if (r->circs)
        r->circs->prev = c;
    r->circs = c;
    r->st.client_circuits++;
    int rr = circ_start_attempt(c);
    if (rr < 0) {
        c->state = C_DEAD;
        circ_clear_attempt(c, 0, 0);
        circ_park(c);
        *err = rr;
        return NULL;
    }
    *err = 0;
    return c;
}

int vx_circuit_splice(struct vx_circuit *c, int fd)
{
    if (!c || c->state != C_OPEN || c->spliced) {
        if (fd >= 0)
            close(fd);
        return VX_ERR_INVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        circ_end(c, VX_ERR_SYS, 1, VX_CR_INTERNAL);
        return VX_ERR_SYS;
    }
    c->spliced = 1;
    fdend_start(&c->fe, c->r->loop, fd, &circ_fd_ops, c);
    fdend_try_shut(&c->fe); /* an END that came before the splice */
    link_resume(&c->l);     /* data that came before the splice */
    return 0;
}

int vx_circuit_send_cell(struct vx_circuit *c, uint8_t rcmd, const uint8_t *data, size_t len)
{
    uint8_t buf[CELL_BUF + VX_CIRCUIT_MAX_HOPS * VX_CELL_TAG_LEN];
    if (!c || c->state != C_OPEN || !c->bare || rcmd == VX_RC_DATA || rcmd == VX_RC_END)
        return VX_ERR_INVAL;
    if (len > VX_CELL_DATA_MAX)
        return VX_ERR_TOOBIG;
    return circ_send(c, circ_far(c), rcmd, buf, data, len);
}

int vx_circuit_set_e2e(struct vx_circuit *c, const uint8_t fwd[32], const uint8_t bwd[32],
                       int closer)
{
    if (!c || c->state != C_OPEN || !c->bare || c->e2e || c->n >= VX_CIRCUIT_MAX_HOPS)
        return VX_ERR_INVAL;
    c->hop[c->n].fwd = vx_chan_new(VX_AEAD_CHACHAPOLY, fwd);
    c->hop[c->n].bwd = vx_chan_new(VX_AEAD_CHACHAPOLY, bwd);
    c->e2e = 1;
    c->e2e_waits = !closer;
    return 0;
}

void vx_circuit_set_cell_cb(struct vx_circuit *c, vx_circuit_cell_fn fn)
{
    c->on_cell = fn;
}

const uint8_t *vx_circuit_binding(const struct vx_circuit *c)
{
    return c && c->state == C_OPEN ? c->hop[c->n - 1].binding : NULL;
}

const struct vx_relay_cand *vx_relay_pool(const struct vx_relay *r, size_t *n)
{
    *n = r->npool;
    return r->pool;
}

const struct vx_identity *vx_relay_identity(const struct vx_relay *r)
{
    return r->id;
}

struct ev_loop *vx_relay_loop(const struct vx_relay *r)
{
    return r->loop;
}

void vx_circuit_close(struct vx_circuit *c)
{
    if (!c || c->state == C_DEAD)
        return;
    c->cbs.on_open = NULL;
    c->cbs.on_close = NULL;
    circ_end(c, VX_ERR_CLOSED, 1, VX_CR_REQUESTED);
}

unsigned vx_circuit_hops(const struct vx_circuit *c)
{
    return c->n;
}

const uint8_t *vx_circuit_hop_id(const struct vx_circuit *c, unsigned i)
{
    return i < c->n ? c->hop[i].id : NULL;
}

unsigned vx_circuit_attempts(const struct vx_circuit *c)
{
    return c->attempts;
}

/* ---------------------------------------------------------------------- */

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct vx_relay *r = w->data;
    while (r->reap_rcs) {
        struct rcirc *rc = r->reap_rcs;
        r->reap_rcs = rc->reap_next;
        free(rc);
    }
    while (r->reap_circs) {
        struct vx_circuit *c = r->reap_circs;
        r->reap_circs = c->reap_next;
        sodium_memzero(c, sizeof(*c));
        free(c);
    }
}

struct vx_relay *vx_relay_new(struct ev_loop *loop, struct vx_transport *t,
                              const struct vx_identity *id, const struct vx_relay_conf *conf)
{
    struct vx_relay *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->loop = loop;
    r->t = t;
    r->id = id;
    ev_init(&r->sched, sched_cb);
    r->sched.repeat = SCHED_TICK;
    r->sched.data = r;
    ev_check_init(&r->reap_w, reap_cb);
    r->reap_w.data = r;
    ev_check_start(loop, &r->reap_w);
    ev_unref(loop);
    vx_relay_set_conf(r, conf);
    return r;
}

void vx_relay_set_conf(struct vx_relay *r, const struct vx_relay_conf *conf)
{
    struct vx_relay_conf d;
    vx_relay_conf_defaults(&d);
    r->conf = conf ? *conf : d;
    if (!r->conf.max_circuits)
        r->conf.max_circuits = d.max_circuits;
    if (!r->conf.max_per_prev)
        r->conf.max_per_prev = d.max_per_prev;
    if (!r->conf.setup_timeout_ms)
        r->conf.setup_timeout_ms = d.setup_timeout_ms;
    if (!r->conf.attempts)
        r->conf.attempts = d.attempts;
    if (!r->conf.down_ms)
        r->conf.down_ms = d.down_ms;
    tb_init(&r->tb, r->conf.rate_total, r->conf.burst_total);
    for (struct rcirc *rc = r->rcs; rc; rc = rc->next)
        tb_init(&rc->tb, r->conf.rate_circuit, r->conf.burst_circuit);
}

void vx_relay_set_services(struct vx_relay *r, const struct vx_services *svcs)
{
    r->svcs = svcs;
}

void vx_relay_set_tap(struct vx_relay *r, vx_relay_tap_fn fn, void *arg)
{
    r->tap = fn;
    r->tap_arg = arg;
}

void vx_relay_set_pool(struct vx_relay *r, const struct vx_relay_cand *pool, size_t n)
{
    free(r->pool);
    r->pool = NULL;
    r->npool = 0;
    if (!n)
        return;
    r->pool = calloc(n, sizeof(*pool));
    if (!r->pool)
        abort();
    memcpy(r->pool, pool, n * sizeof(*pool));
    for (size_t i = 0; i < n; i++)
        vx_node_id_from_pk(r->pool[i].pk, r->pool[i].id);
    r->npool = n;
}

void vx_relay_free(struct vx_relay *r)
{
    if (!r)
        return;
    while (r->circs)
        vx_circuit_close(r->circs);
    while (r->rcs) {
        struct rcirc *rc = r->rcs;
        rc_kill(rc, 1, 1, VX_CR_REQUESTED);
        if (rc->lingering) {
            rc->lingering = 0;
            rc_finalize(rc);
        }
    }
    reap_cb(r->loop, &r->reap_w, 0);
    ev_timer_stop(r->loop, &r->sched);
    ev_ref(r->loop);
    ev_check_stop(r->loop, &r->reap_w);
    free(r->pool);
    free(r);
}

void vx_relay_get_stats(const struct vx_relay *r, struct vx_relay_stats *st)
{
    *st = r->st;
    st->intro_circuits = st->rend_waiting = st->rend_circuits = 0;
    for (const struct rcirc *x = r->rcs; x; x = x->next) {
        st->intro_circuits += x->state == RC_INTRO;
        st->rend_waiting += x->state == RC_REND_WAIT;
        st->rend_circuits += x->state == RC_JOINED;
    }
}
