/* dht.c — the DHT's UDP/libev driver around the sans-IO core. */
#include "dht/dht.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"

#define READ_BURST 64

struct vx_dht {
    struct ev_loop *loop;
    const struct vx_identity *id;
    struct vx_registry *reg;
    struct vx_dht_conf conf;
    struct vx_dhtcore *core;
    int fd;
    int own_fd;
    int v6;
    ev_io io;
    ev_timer timer;
    uint64_t send_errors;
    uint64_t node_seq;
};

void vx_dht_conf_default(struct vx_dht_conf *conf)
{
    vx_dhtcore_conf_default(&conf->core);
    conf->registry_bootstrap = 32;
}

/* ---- core callbacks --------------------------------------------------- */

static void clock_now(struct vx_dht *dht)
{
    vx_dhtcore_set_time(dht->core, vx_time_mono_ms(), vx_time_unix());
}

static void rearm(struct vx_dht *dht)
{
    uint64_t d = vx_dhtcore_next_deadline(dht->core), now = vx_time_mono_ms();
    double after = d == UINT64_MAX ? 3600.0 : d <= now ? 0.0 : (double)(d - now) / 1000.0;
    ev_timer_stop(dht->loop, &dht->timer);
    ev_timer_set(&dht->timer, after, 0.0);
    ev_timer_start(dht->loop, &dht->timer);
}

static void on_send(void *ctx, const struct vx_dhtaddr *to, const uint8_t *data, size_t len)
{
    struct vx_dht *dht = ctx;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (dht->fd < 0)
        return;
    if (to->family == 6 && !dht->v6)
        return;
    vx_dhtaddr_to_sockaddr(to, dht->v6, &ss, &sl);
    /* On a socket shared with QUIC (which asks for ICMP errors), a send
     * may report an earlier datagram's ICMP error instead of sending: once
     * more then. */
    if (sendto(dht->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0 &&
        (errno != ECONNREFUSED ||
         sendto(dht->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)) {
        dht->send_errors++;
        log_debug(LD_DHT, "sendto: %s", strerror(errno));
    }
}

static void on_record_seen(void *ctx, const struct vx_record *rec)
{
    struct vx_dht *dht = ctx;
    if (!dht->reg)
        return;
    if (rec->type == VX_REC_NODE)
        vx_registry_peer_put(dht->reg, rec, vx_time_unix());
    else if (rec->type == VX_REC_SERVICE)
        vx_registry_service_put(dht->reg, rec, vx_time_unix());
}

static void on_peer_result(void *ctx, const uint8_t id[VX_NODE_ID_LEN], int ok, uint32_t rtt)
{
    struct vx_dht *dht = ctx;
    if (dht->reg)
        vx_registry_peer_result(dht->reg, id, ok, rtt, vx_time_unix());
}

static int on_cache_get(void *ctx, const uint8_t key[VX_DHT_KEY_LEN], struct vx_record *out)
{
    struct vx_dht *dht = ctx;
    const struct vx_record *r;
    const struct vx_registry_peer *p;
    if (!dht->reg)
        return VX_ERR_NOTFOUND;
    r = vx_registry_service_get(dht->reg, key, vx_time_unix());
    if (r) {
        *out = *r;
        return 0;
    }
    p = vx_registry_peer_get(dht->reg, key);
    if (p && p->rec.expires > vx_time_unix()) {
        *out = p->rec;
        return 0;
    }
    return VX_ERR_NOTFOUND;
}

/* ---- watchers --------------------------------------------------------- */

void vx_dht_input(struct vx_dht *dht, const uint8_t *data, size_t len, const struct sockaddr *from,
                  socklen_t fromlen)
{
    struct vx_dhtaddr a;
    if (vx_dhtaddr_from_sockaddr(&a, from, fromlen) < 0)
        return;
    clock_now(dht);
    vx_dhtcore_input(dht->core, &a, data, len);
    rearm(dht);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vx_dht *dht = w->data;
    uint8_t buf[VX_DHTMSG_MAX + 1];
    (void)loop;
    (void)revents;
    for (int i = 0; i < READ_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t n = recvfrom(dht->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug(LD_DHT, "recvfrom: %s", strerror(errno));
            break;
        }
        struct vx_dhtaddr a;
        if (vx_dhtaddr_from_sockaddr(&a, (struct sockaddr *)&ss, sl) < 0)
            continue;
        clock_now(dht);
        vx_dhtcore_input(dht->core, &a, buf, (size_t)n);
    }
    rearm(dht);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_dht *dht = w->data;
    (void)loop;
    (void)revents;
    clock_now(dht);
    vx_dhtcore_tick(dht->core);
    rearm(dht);
}

/* ---- API -------------------------------------------------------------- */

struct vx_dht *vx_dht_new(struct ev_loop *loop, const struct vx_identity *id,
                          struct vx_registry *reg, const struct vx_dht_conf *conf)
{
    struct vx_dht *dht = calloc(1, sizeof(*dht));
    struct vx_dhtcore_ops ops = {
            .send = on_send,
            .record_seen = on_record_seen,
            .peer_result = on_peer_result,
            .cache_get = on_cache_get,
    };
    if (!dht)
        abort();
    dht->loop = loop;
    dht->id = id;
    dht->reg = reg;
    if (conf)
        dht->conf = *conf;
    else
        vx_dht_conf_default(&dht->conf);
    dht->fd = -1;
    dht->core = vx_dhtcore_new(&dht->conf.core, id->node_id, id, &ops, dht);
    clock_now(dht);
    ev_io_init(&dht->io, on_readable, -1, EV_READ);
    dht->io.data = dht;
    ev_timer_init(&dht->timer, on_timer, 1.0, 0.0);
    dht->timer.data = dht;
    rearm(dht);
    return dht;
}

void vx_dht_free(struct vx_dht *dht)
{
    if (!dht)
        return;
    ev_io_stop(dht->loop, &dht->io);
    ev_timer_stop(dht->loop, &dht->timer);
    if (dht->own_fd && dht->fd >= 0)
        close(dht->fd);
    vx_dhtcore_free(dht->core);
    free(dht);
}

int vx_dht_listen(struct vx_dht *dht, const struct sockaddr *sa, socklen_t len)
{
    int fd, off = 0;
    if (dht->fd >= 0)
        return VX_ERR_EXISTS;
    fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VX_ERR_SYS;
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    if (bind(fd, sa, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return VX_ERR_SYS;
    }
    dht->fd = fd;
    dht->own_fd = 1;
    dht->v6 = sa->sa_family == AF_INET6;
    ev_io_set(&dht->io, fd, EV_READ);
    ev_io_start(dht->loop, &dht->io);
    return 0;
}

int vx_dht_attach_fd(struct vx_dht *dht, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (dht->fd >= 0)
        return VX_ERR_EXISTS;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return VX_ERR_SYS;
    dht->fd = fd;
    dht->own_fd = 0;
    dht->v6 = ss.ss_family == AF_INET6;
    return 0;
}

int vx_dht_local_addr(const struct vx_dht *dht, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = sizeof(*ss);
    if (dht->fd < 0)
        return VX_ERR_NOTFOUND;
    return getsockname(dht->fd, (struct sockaddr *)ss, len) < 0 ? VX_ERR_SYS : 0;
}

int vx_dht_bootstrap(struct vx_dht *dht, const struct sockaddr_storage *addrs, size_t n)
{
    struct vx_dhtaddr a[64];
    size_t na = 0, added = 0;
    clock_now(dht);
    for (size_t i = 0; i < n; i++) {
        if (vx_dhtaddr_from_sockaddr(&a[na], (const struct sockaddr *)&addrs[i],
                                     sizeof(addrs[i])) == 0)
            na++;
        if (na == sizeof(a) / sizeof(a[0]) || (i + 1 == n && na)) {
            vx_dhtcore_bootstrap(dht->core, a, na);
            added += na;
            na = 0;
        }
    }
    if (dht->reg && dht->conf.registry_bootstrap) {
        const struct vx_registry_peer *best[256];
        size_t max = dht->conf.registry_bootstrap < 256 ? dht->conf.registry_bootstrap : 256;
        size_t nb = vx_registry_best_peers(dht->reg, vx_time_unix(), best, max);
        for (size_t i = 0; i < nb; i++) {
            const struct vx_record *r = &best[i]->rec;
            if (memcmp(r->u.node.node_id, dht->id->node_id, VX_NODE_ID_LEN) == 0)
                continue;
            for (unsigned e = 0; e < r->u.node.n_endpoints; e++) {
                const struct vx_endpoint *ep = &r->u.node.endpoints[e];
                struct vx_dhtaddr pa = {.family = ep->family, .port = ep->port};
                if (ep->family == 6 && !dht->v6)
                    continue;
                memcpy(pa.ip, ep->addr, 16);
                vx_dhtcore_add_contact(dht->core, r->u.node.node_id, &pa);
                added++;
                break;
            }
        }
    }
    rearm(dht);
    if (!added) {
        log_notice(LD_DHT, "no bootstrap peers and none known: waiting for others to join");
        return VX_ERR_NOTFOUND;
    }
    log_info(LD_DHT, "bootstrapping from %zu peers", added);
    return 0;
}

int vx_dht_publish(struct vx_dht *dht, const struct vx_record *rec, vx_dht_publish_cb cb, void *arg)
{
    int rc;
    clock_now(dht);
    rc = vx_dhtcore_publish(dht->core, rec, cb, arg);
    rearm(dht);
    return rc;
}

int vx_dht_unpublish(struct vx_dht *dht, const uint8_t key[VX_DHT_KEY_LEN])
{
    clock_now(dht);
    return vx_dhtcore_unpublish(dht->core, key);
}

int vx_dht_set_endpoints(struct vx_dht *dht, const struct vx_endpoint *eps, size_t n,
                         uint32_t lifetime_s)
{
    struct vx_record r;
    uint64_t now = vx_time_unix();
    int rc;
    if (n > VX_RECORD_MAX_ENDPOINTS)
        return VX_ERR_TOOBIG;
    if (lifetime_s == 0 || lifetime_s > VX_RECORD_MAX_LIFETIME)
        return VX_ERR_INVAL;
    /* Sequence: unix time, strictly increasing across calls and restarts. */
    dht->node_seq = dht->node_seq >= now ? dht->node_seq + 1 : now;
    vx_record_init_node(&r, dht->node_seq, now, now + lifetime_s);
    for (size_t i = 0; i < n; i++)
        if ((rc = vx_record_add_endpoint(&r, &eps[i])) < 0)
            return rc;
    if ((rc = vx_record_sign(&r, dht->id)) < 0)
        return rc;
    return vx_dht_publish(dht, &r, NULL, NULL);
}

int vx_dht_lookup(struct vx_dht *dht, const uint8_t key[VX_DHT_KEY_LEN], const uint8_t *want_signer,
                  vx_dht_lookup_cb cb, void *arg)
{
    int rc;
    clock_now(dht);
    rc = vx_dhtcore_lookup(dht->core, key, want_signer, cb, arg);
    rearm(dht);
    return rc;
}

int vx_dht_find_node(struct vx_dht *dht, const uint8_t node_id[VX_NODE_ID_LEN], vx_dht_lookup_cb cb,
                     void *arg)
{
    return vx_dht_lookup(dht, node_id, NULL, cb, arg);
}

void vx_dht_set_lookup_observer(struct vx_dht *dht, vx_dht_lookup_observer_fn fn, void *arg)
{
    vx_dhtcore_set_lookup_observer(dht->core, fn, arg);
}

void vx_dht_stats(const struct vx_dht *dht, struct vx_dht_stats *st)
{
    memset(st, 0, sizeof(*st));
    vx_dhtcore_stats(dht->core, &st->core);
    st->listening = dht->fd >= 0;
    st->send_errors = dht->send_errors;
}

void vx_dht_foreach_peer(const struct vx_dht *dht,
                         int (*cb)(const struct vx_rt_contact *c, void *arg), void *arg)
{
    vx_rt_foreach(vx_dhtcore_rt(dht->core), cb, arg);
}
