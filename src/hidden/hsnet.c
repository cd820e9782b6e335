/* hsnet.c — hidden-service descriptors over the DHT: owner publication and
 * client resolution (libev). */
#include "hidden/hsnet.h"
#include "crypto/blind.h"
#include "dht/dht.h"
#include "hidden/hsaddr.h"
#include "hidden/hsdir.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "lib/xalloc.h"

#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- owner ------------------------------------------------------------ */

struct vx_hs_owner {
    struct ev_loop *loop;
    struct vx_dht *dht;
    const struct vx_identity *svc;
    char name[64];
    uint32_t lifetime;
    struct vx_hsdesc d;
    int have_intros;
    uint8_t clients[VX_HSDESC_MAX_CLIENTS][VX_X25519_LEN];
    size_t n_clients;
    struct vx_record recs[VX_HSDIR_MAX_KEYS];
    size_t n_recs;
    ev_timer timer;
    uint64_t last_pub_ms; /* monotonic; 0: never published */
    struct vx_hs_owner_stats st;
};

/* Intro point changes closer together than this are published as one
 * revision: losing a guard moves every intro point within milliseconds,
 * and a burst of revisions only spends the holders' STORE allowance and
 * leaves them disagreeing. */
#define OWNER_COALESCE_MS 500

static void owner_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct vx_hs_owner *vx_hs_owner_new(struct ev_loop *loop, struct vx_dht *dht,
                                    const struct vx_identity *svc, const char *name,
                                    uint32_t lifetime)
{
    struct vx_hs_owner *o = xcalloc(1, sizeof(*o));

    o->loop = loop;
    o->dht = dht;
    o->svc = svc;
    snprintf(o->name, sizeof(o->name), "%s", name ? name : "?");
    o->lifetime = lifetime ? lifetime : VX_HSDESC_LIFETIME;
    ev_timer_init(&o->timer, owner_timer_cb, 0., 0.);
    o->timer.data = o;
    return o;
}

static void owner_unpublish_all(struct vx_hs_owner *o)
{
    uint8_t key[VX_DHT_KEY_LEN];

    for (size_t i = 0; i < o->n_recs; i++) {
        vx_record_key(&o->recs[i], key);
        vx_dht_unpublish(o->dht, key);
    }
    o->n_recs = 0;
}

void vx_hs_owner_free(struct vx_hs_owner *o)
{
    if (!o)
        return;
    ev_timer_stop(o->loop, &o->timer);
    owner_unpublish_all(o);
    sodium_memzero(o, sizeof(*o));
    free(o);
}

int vx_hs_owner_set_clients(struct vx_hs_owner *o, const uint8_t (*clients)[VX_X25519_LEN],
                            size_t n)
{
    if (n > VX_HSDESC_MAX_CLIENTS)
        return VX_ERR_TOOBIG;
    if (n)
        memcpy(o->clients, clients, n * VX_X25519_LEN);
    o->n_clients = n;
    return 0;
}

static int owner_publish(struct vx_hs_owner *o)
{
    struct vx_record recs[VX_HSDIR_MAX_KEYS];
    uint8_t k1[VX_DHT_KEY_LEN], k2[VX_DHT_KEY_LEN];
    uint64_t now = vx_time_unix(), rev = o->st.revision;
    int n, rc = 0;

    ev_timer_stop(o->loop, &o->timer);
    if (!o->have_intros)
        return 0;
    o->last_pub_ms = vx_time_mono_ms();
    n = vx_hs_pub_records(o->svc, &o->d, (const uint8_t(*)[VX_X25519_LEN])o->clients, o->n_clients,
                          now, o->lifetime, &rev, recs, VX_HSDIR_MAX_KEYS);
    if (n < 0) {
        o->st.last_err = n;
        log_warn(LD_PATH, "hidden service %s: cannot build its descriptor: %s", o->name,
                 vx_strerror(n));
        /* retry later: the intro points or the clock may change */
        ev_timer_set(&o->timer, 60., 0.);
        ev_timer_start(o->loop, &o->timer);
        o->st.next_unix = now + 60;
        return n;
    }
    o->st.revision = rev;
    /* positions of periods no longer wanted */
    for (size_t i = 0; i < o->n_recs; i++) {
        int keep = 0;
        vx_record_key(&o->recs[i], k1);
        for (int j = 0; j < n && !keep; j++) {
            vx_record_key(&recs[j], k2);
            keep = memcmp(k1, k2, sizeof(k1)) == 0;
        }
        if (!keep)
            vx_dht_unpublish(o->dht, k1);
    }
    o->n_recs = 0;
    for (int j = 0; j < n; j++) {
        int r = vx_dht_publish(o->dht, &recs[j], NULL, NULL);
        if (r < 0) {
            rc = r;
            continue;
        }
        o->recs[o->n_recs++] = recs[j];
    }
    o->st.publishes++;
    o->st.records = o->n_recs;
    o->st.last_err = rc;
    if (rc < 0)
        log_warn(LD_PATH, "hidden service %s: publishing its descriptor failed: %s", o->name,
                 vx_strerror(rc));
    else
        log_info(LD_PATH, "hidden service %s: descriptor revision %llu published at %zu positions",
                 o->name, (unsigned long long)rev, o->n_recs);
    o->st.next_unix = vx_hs_pub_next(now, o->lifetime);
    ev_timer_set(&o->timer, (ev_tstamp)(o->st.next_unix - now), 0.);
    ev_timer_start(o->loop, &o->timer);
    return rc;
}

static void owner_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    owner_publish(w->data);
}

int vx_hs_owner_set_intros(struct vx_hs_owner *o, const struct vx_hs_intro *intros, size_t n)
{
    if (n < 1 || n > VX_HSDESC_MAX_INTROS)
        return VX_ERR_INVAL;
    memset(&o->d, 0, sizeof(o->d));
    o->d.n_intros = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        o->d.intros[i] = intros[i];
        o->d.intros[i].flags = i >= VX_HSDESC_ACTIVE ? VX_HS_INTRO_STANDBY : 0;
    }
    o->have_intros = 1;
    uint64_t now = vx_time_mono_ms();
    if (o->last_pub_ms && now - o->last_pub_ms < OWNER_COALESCE_MS) {
        /* published a moment ago: this change goes out with any others
         * that follow, OWNER_COALESCE_MS after the last publication */
        ev_timer_stop(o->loop, &o->timer);
        ev_timer_set(&o->timer, (ev_tstamp)(o->last_pub_ms + OWNER_COALESCE_MS - now) / 1000., 0.);
        ev_timer_start(o->loop, &o->timer);
        o->st.next_unix = vx_time_unix() + 1;
        return 0;
    }
    return owner_publish(o);
}

int vx_hs_owner_republish(struct vx_hs_owner *o)
{
    return owner_publish(o);
}

void vx_hs_owner_stats(const struct vx_hs_owner *o, struct vx_hs_owner_stats *st)
{
    *st = o->st;
}

/* ---- client ----------------------------------------------------------- */

struct cache_ent {
    uint8_t pk[VX_PK_LEN];
    uint64_t max_revision;
    uint64_t used;
    int have_desc;
    struct vx_hsdesc desc;
};

struct slot_arg {
    struct vx_hs_resolve *r;
    size_t i;
};

struct vx_hs_resolve {
    struct vx_hs_client *c;
    struct vx_hs_resolve *prev, *next; /* every resolve not yet freed */
    struct vx_hs_fetch f;
    vx_hs_resolve_cb cb;
    void *arg;
    ev_timer timer;
    int finished;
    unsigned outstanding; /* DHT lookups that will still call back */
    struct slot_arg sa[VX_HSDIR_MAX_KEYS];
    int cached;
    struct vx_hsdesc desc;
};

struct vx_hs_client {
    struct ev_loop *loop;
    struct vx_dht *dht;
    struct vx_hs_resolve *all;
    uint64_t clock;
    struct cache_ent cache[VX_HS_CACHE_MAX];
};

struct vx_hs_client *vx_hs_client_new(struct ev_loop *loop, struct vx_dht *dht)
{
    struct vx_hs_client *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->dht = dht;
    return c;
}

static void resolve_release(struct vx_hs_resolve *r)
{
    struct vx_hs_client *c = r->c;

    ev_timer_stop(c->loop, &r->timer);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->all = r->next;
    if (r->next)
        r->next->prev = r->prev;
    vx_hs_fetch_wipe(&r->f);
    sodium_memzero(r, sizeof(*r));
    free(r);
}

/* Resolves whose client is gone but whose DHT lookups will still call back
 * (lookups cannot be cancelled): kept here until the last one answers, so
 * the callback never touches freed memory. */
static struct vx_hs_resolve *orphans;

static void orphan_release(struct vx_hs_resolve *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        orphans = r->next;
    if (r->next)
        r->next->prev = r->prev;
    vx_hs_fetch_wipe(&r->f);
    sodium_memzero(r, sizeof(*r));
    free(r);
}

void vx_hs_client_free(struct vx_hs_client *c)
{
    if (!c)
        return;
    while (c->all) {
        struct vx_hs_resolve *r = c->all;
        if (!r->outstanding) {
            resolve_release(r);
            continue;
        }
        ev_timer_stop(c->loop, &r->timer);
        c->all = r->next;
        if (c->all)
            c->all->prev = NULL;
        r->c = NULL;
        r->finished = 1;
        r->prev = NULL;
        r->next = orphans;
        if (orphans)
            orphans->prev = r;
        orphans = r;
    }
    sodium_memzero(c, sizeof(*c));
    free(c);
}

void vx_hs_client_flush(struct vx_hs_client *c)
{
    for (size_t i = 0; i < VX_HS_CACHE_MAX; i++)
        c->cache[i].have_desc = 0;
}

static struct cache_ent *cache_find(struct vx_hs_client *c, const uint8_t pk[VX_PK_LEN], int create)
{
    struct cache_ent *lru = &c->cache[0];

    for (size_t i = 0; i < VX_HS_CACHE_MAX; i++) {
        struct cache_ent *e = &c->cache[i];
        if (e->used && memcmp(e->pk, pk, VX_PK_LEN) == 0) {
            e->used = ++c->clock;
            return e;
        }
        if (e->used < lru->used)
            lru = e;
    }
    if (!create)
        return NULL;
    memset(lru, 0, sizeof(*lru));
    memcpy(lru->pk, pk, VX_PK_LEN);
    lru->used = ++c->clock;
    return lru;
}

int vx_hs_client_forget(struct vx_hs_client *c, const uint8_t pk[VX_PK_LEN], uint64_t revision)
{
    struct cache_ent *e = cache_find(c, pk, 0);

    if (!e || !e->have_desc || e->desc.o.revision > revision)
        return 0;
    e->have_desc = 0;
    return 1;
}

static void resolve_finish(struct vx_hs_resolve *r, int err, const struct vx_hsdesc *desc)
{
    struct vx_hs_client *c = r->c;
    char addr[VX_HSADDR_LEN + 1];

    r->finished = 1;
    ev_timer_stop(c->loop, &r->timer);
    if (err == 0 && !r->cached) {
        struct cache_ent *e = cache_find(c, r->f.pk, 1);
        e->desc = *desc;
        e->have_desc = 1;
        if (desc->o.revision > e->max_revision)
            e->max_revision = desc->o.revision;
    }
    if (vx_log_enabled(LD_PATH, VX_LOG_DEBUG) && vx_hsaddr_format(r->f.pk, addr, sizeof(addr)) == 0)
        log_debug(LD_PATH, "descriptor of %.12s...: %s", addr, err ? vx_strerror(err) : "ok");
    r->cb(err, err == 0 ? desc : NULL, r->arg);
    if (r->outstanding == 0)
        resolve_release(r);
}

static void resolve_decide(struct vx_hs_resolve *r)
{
    struct vx_hsdesc d;
    int rc = vx_hs_fetch_result(&r->f, &d);

    if (rc != VX_ERR_AGAIN)
        resolve_finish(r, rc, &d);
}

static void on_lookup(const struct vx_dht_result *res, void *arg)
{
    struct slot_arg *sa = arg;
    struct vx_hs_resolve *r = sa->r;

    r->outstanding--;
    if (!r->c) { /* its client was freed meanwhile */
        if (r->outstanding == 0)
            orphan_release(r);
        return;
    }
    if (r->finished) {
        if (r->outstanding == 0)
            resolve_release(r);
        return;
    }
    vx_hs_fetch_answer(&r->f, sa->i, res->err == 0 ? res->rec : NULL,
                       res->err ? res->err : VX_ERR_NOTFOUND);
    resolve_decide(r);
}

static void resolve_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct vx_hs_resolve *r = w->data;
    (void)loop;
    (void)revents;
    if (r->cached) {
        resolve_finish(r, 0, &r->desc);
        return;
    }
    /* bounded time: whoever has not answered counts as timed out */
    for (size_t i = 0; i < r->f.n; i++)
        vx_hs_fetch_answer(&r->f, i, NULL, VX_ERR_TIMEOUT);
    resolve_decide(r);
}

struct vx_hs_resolve *vx_hs_resolve(struct vx_hs_client *c, const char *address,
                                    const uint8_t *client_sk, unsigned threshold,
                                    uint32_t timeout_ms, vx_hs_resolve_cb cb, void *arg, int *err)
{
    uint8_t pk[VX_PK_LEN];
    struct vx_hs_resolve *r;
    struct cache_ent *e;
    uint64_t now = vx_time_unix();
    int rc;

    if ((rc = vx_hsaddr_parse(address, pk)) < 0) {
        *err = rc;
        return NULL;
    }
    r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    ev_timer_init(&r->timer, resolve_timer_cb, 0., 0.);
    r->timer.data = r;
    e = cache_find(c, pk, 0);
    rc = vx_hs_fetch_init(&r->f, pk, client_sk, now, e ? e->max_revision : 0, threshold);
    if (rc < 0) {
        free(r);
        *err = rc;
        return NULL;
    }
    r->next = c->all;
    if (c->all)
        c->all->prev = r;
    c->all = r;
    if (e && e->have_desc && e->desc.o.expires > now && (!e->desc.auth_required || client_sk)) {
        r->cached = 1;
        r->desc = e->desc;
        ev_timer_start(c->loop, &r->timer);
        return r;
    }
    for (size_t i = 0; i < r->f.n; i++) {
        r->sa[i].r = r;
        r->sa[i].i = i;
        rc = vx_dht_lookup(c->dht, r->f.slot[i].key, r->f.slot[i].blinded, on_lookup, &r->sa[i]);
        if (rc < 0)
            vx_hs_fetch_answer(&r->f, i, NULL, rc);
        else
            r->outstanding++;
    }
    if (r->outstanding == 0) {
        /* nothing could be asked: report from the loop */
        ev_timer_set(&r->timer, 0., 0.);
    } else {
        ev_timer_set(&r->timer, (timeout_ms ? timeout_ms : VX_HS_RESOLVE_TIMEOUT_MS) / 1000., 0.);
    }
    ev_timer_start(c->loop, &r->timer);
    return r;
}

void vx_hs_resolve_cancel(struct vx_hs_resolve *r)
{
    if (!r || r->finished)
        return;
    r->finished = 1;
    ev_timer_stop(r->c->loop, &r->timer);
    if (r->outstanding == 0)
        resolve_release(r);
}
