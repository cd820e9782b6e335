/* registry.c — the persisted local cache (peers, services, pins, aliases). */
#include "registry/registry.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "wire/cursor.h"
#include "lib/xalloc.h"

#define MAGIC          "vx6reg"
#define MAGIC_LEN      6
#define FORMAT_VERSION "01"
#define SUM_LEN        32
/* Worst case: every table full of the largest entries. */
#define FILE_MAX (8u << 20)

struct reg_service {
    uint8_t key[VX_DHT_KEY_LEN];
    struct vx_record rec;
};

struct reg_alias {
    char name[VX_LABEL_MAX + 1];
    char target[VX_ALIAS_TARGET_MAX + 1];
};

struct vx_registry {
    char *path; /* NULL: memory only */
    int readonly;
    int dirty;
    size_t dropped_on_load;
    size_t evicted;

    struct vx_registry_peer *peers;
    size_t n_peers;
    struct reg_service *svcs;
    size_t n_svcs;
    struct vx_registry_pin *pins;
    size_t n_pins;
    struct reg_alias *aliases;
    size_t n_aliases;
};

struct vx_registry *vx_registry_new(const char *path)
{
    struct vx_registry *reg = xcalloc(1, sizeof(*reg));
    if (path) {
        reg->path = strdup(path);
        if (!reg->path)
            abort();
    }
    /* Fixed-capacity tables: allocated once, never grow. */
    reg->peers = xcalloc(VX_REGISTRY_MAX_PEERS, sizeof(*reg->peers));
    reg->svcs = xcalloc(VX_REGISTRY_MAX_SERVICES, sizeof(*reg->svcs));
    reg->pins = xcalloc(VX_REGISTRY_MAX_PINS, sizeof(*reg->pins));
    reg->aliases = xcalloc(VX_REGISTRY_MAX_ALIASES, sizeof(*reg->aliases));
    return reg;
}

void vx_registry_free(struct vx_registry *reg)
{
    if (!reg)
        return;
    free(reg->path);
    free(reg->peers);
    free(reg->svcs);
    free(reg->pins);
    free(reg->aliases);
    free(reg);
}

static void clear_all(struct vx_registry *reg)
{
    reg->n_peers = reg->n_svcs = reg->n_pins = reg->n_aliases = 0;
}

int vx_registry_dirty(const struct vx_registry *reg)
{
    return reg->dirty;
}

void vx_registry_stats(const struct vx_registry *reg, struct vx_registry_stats *st)
{
    st->peers = reg->n_peers;
    st->services = reg->n_svcs;
    st->pins = reg->n_pins;
    st->aliases = reg->n_aliases;
    st->dropped_on_load = reg->dropped_on_load;
    st->evicted = reg->evicted;
}

/* ---- peers ------------------------------------------------------------ */

static struct vx_registry_peer *peer_find(const struct vx_registry *reg, const uint8_t *id)
{
    for (size_t i = 0; i < reg->n_peers; i++)
        if (memcmp(reg->peers[i].rec.u.node.node_id, id, VX_NODE_ID_LEN) == 0)
            return &reg->peers[i];
    return NULL;
}

/* Is a less useful than b? */
static int peer_worse(const struct vx_registry_peer *a, const struct vx_registry_peer *b,
                      uint64_t now)
{
    int ae = a->rec.expires <= now, be = b->rec.expires <= now;
    if (ae != be)
        return ae;
    if (a->last_seen != b->last_seen)
        return a->last_seen < b->last_seen;
    return a->successes < b->successes;
}

static size_t peer_victim(const struct vx_registry *reg, uint64_t now)
{
    size_t v = 0;
    for (size_t i = 1; i < reg->n_peers; i++)
        if (peer_worse(&reg->peers[i], &reg->peers[v], now))
            v = i;
    return v;
}

int vx_registry_peer_put(struct vx_registry *reg, const struct vx_record *node, uint64_t now)
{
    struct vx_registry_peer *p;
    if (node->type != VX_REC_NODE)
        return VX_ERR_INVAL;
    p = peer_find(reg, node->u.node.node_id);
    if (p) {
        if (node->seq <= p->rec.seq)
            return VX_ERR_STALE;
        p->rec = *node;
        reg->dirty = 1;
        return 0;
    }
    if (reg->n_peers == VX_REGISTRY_MAX_PEERS) {
        p = &reg->peers[peer_victim(reg, now)];
        reg->evicted++;
    } else {
        p = &reg->peers[reg->n_peers++];
    }
    memset(p, 0, sizeof(*p));
    p->rec = *node;
    reg->dirty = 1;
    return 0;
}

int vx_registry_peer_result(struct vx_registry *reg, const uint8_t id[VX_NODE_ID_LEN], int ok,
                            uint32_t rtt_ms, uint64_t now)
{
    struct vx_registry_peer *p = peer_find(reg, id);
    if (!p)
        return VX_ERR_NOTFOUND;
    if (ok) {
        if (p->successes < UINT32_MAX)
            p->successes++;
        p->last_seen = now;
        if (rtt_ms)
            p->rtt_ms = p->rtt_ms ? (p->rtt_ms * 7 + rtt_ms) / 8 : rtt_ms;
    } else if (p->failures < UINT32_MAX) {
        p->failures++;
    }
    reg->dirty = 1;
    return 0;
}

const struct vx_registry_peer *vx_registry_peer_get(const struct vx_registry *reg,
                                                    const uint8_t id[VX_NODE_ID_LEN])
{
    return peer_find(reg, id);
}

int vx_registry_peer_remove(struct vx_registry *reg, const uint8_t id[VX_NODE_ID_LEN])
{
    struct vx_registry_peer *p = peer_find(reg, id);
    if (!p)
        return VX_ERR_NOTFOUND;
    *p = reg->peers[--reg->n_peers];
    reg->dirty = 1;
    return 0;
}

size_t vx_registry_best_peers(const struct vx_registry *reg, uint64_t now,
                              const struct vx_registry_peer **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < reg->n_peers; i++) {
        const struct vx_registry_peer *p = &reg->peers[i];
        size_t j;
        if (p->rec.expires <= now)
            continue;
        /* Insertion into the sorted prefix, best first. */
        if (n == max && (n == 0 || !peer_worse(out[n - 1], p, now)))
            continue;
        j = n < max ? n++ : n - 1;
        while (j > 0 && peer_worse(out[j - 1], p, now)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = p;
    }
    return n;
}

void vx_registry_foreach_peer(const struct vx_registry *reg,
                              int (*cb)(const struct vx_registry_peer *p, void *arg), void *arg)
{
    for (size_t i = 0; i < reg->n_peers; i++)
        if (cb(&reg->peers[i], arg))
            return;
}

/* ---- services --------------------------------------------------------- */

static struct reg_service *svc_find(const struct vx_registry *reg, const uint8_t *key)
{
    for (size_t i = 0; i < reg->n_svcs; i++)
        if (memcmp(reg->svcs[i].key, key, VX_DHT_KEY_LEN) == 0)
            return &reg->svcs[i];
    return NULL;
}

int vx_registry_service_put(struct vx_registry *reg, const struct vx_record *svc, uint64_t now)
{
    uint8_t key[VX_DHT_KEY_LEN];
    struct reg_service *s;
    int rc;

    if (svc->type != VX_REC_SERVICE)
        return VX_ERR_INVAL;
    vx_record_key(svc, key);
    s = svc_find(reg, key);
    if (s) {
        if ((rc = vx_record_replaces(svc, &s->rec, now)) < 0)
            return rc;
    } else if (reg->n_svcs == VX_REGISTRY_MAX_SERVICES) {
        size_t v = 0;
        for (size_t i = 1; i < reg->n_svcs; i++)
            if (reg->svcs[i].rec.expires < reg->svcs[v].rec.expires)
                v = i;
        s = &reg->svcs[v];
        reg->evicted++;
    } else {
        s = &reg->svcs[reg->n_svcs++];
    }
    memcpy(s->key, key, sizeof(key));
    s->rec = *svc;
    reg->dirty = 1;
    return 0;
}

const struct vx_record *vx_registry_service_get(const struct vx_registry *reg,
                                                const uint8_t key[VX_DHT_KEY_LEN], uint64_t now)
{
    struct reg_service *s = svc_find(reg, key);
    return s && s->rec.expires > now ? &s->rec : NULL;
}

int vx_registry_service_remove(struct vx_registry *reg, const uint8_t key[VX_DHT_KEY_LEN])
{
    struct reg_service *s = svc_find(reg, key);
    if (!s)
        return VX_ERR_NOTFOUND;
    *s = reg->svcs[--reg->n_svcs];
    reg->dirty = 1;
    return 0;
}

void vx_registry_foreach_service(const struct vx_registry *reg,
                                 int (*cb)(const struct vx_record *svc, void *arg), void *arg)
{
    for (size_t i = 0; i < reg->n_svcs; i++)
        if (cb(&reg->svcs[i].rec, arg))
            return;
}

/* ---- pins ------------------------------------------------------------- */

static struct vx_registry_pin *pin_find(const struct vx_registry *reg, const char *user)
{
    for (size_t i = 0; i < reg->n_pins; i++)
        if (strcmp(reg->pins[i].user, user) == 0)
            return &reg->pins[i];
    return NULL;
}

static int pin_add(struct vx_registry *reg, const char *user, const uint8_t *pk, uint64_t now)
{
    struct vx_registry_pin *p;
    if (reg->n_pins == VX_REGISTRY_MAX_PINS)
        return VX_ERR_LIMIT;
    p = &reg->pins[reg->n_pins++];
    strcpy(p->user, user);
    memcpy(p->pk, pk, VX_PK_LEN);
    p->first_seen = now;
    reg->dirty = 1;
    return 0;
}

/* The pin of a valid user name into *pp; a user not pinned yet is pinned
 * to pk (*pp = NULL then). */
static int pin_lookup(struct vx_registry *reg, const char *user, const uint8_t *pk, uint64_t now,
                      struct vx_registry_pin **pp)
{
    int rc;
    *pp = NULL;
    if ((rc = vx_label_check(user)) < 0)
        return rc;
    *pp = pin_find(reg, user);
    return *pp ? 0 : pin_add(reg, user, pk, now);
}

int vx_registry_pin_check(struct vx_registry *reg, const char *user, const uint8_t pk[VX_PK_LEN],
                          uint64_t now)
{
    struct vx_registry_pin *p;
    int rc = pin_lookup(reg, user, pk, now, &p);
    if (rc < 0 || !p)
        return rc;
    return sodium_memcmp(p->pk, pk, VX_PK_LEN) == 0 ? 0 : VX_ERR_KEYCHANGED;
}

int vx_registry_trust(struct vx_registry *reg, const char *user, const uint8_t pk[VX_PK_LEN],
                      uint64_t now)
{
    struct vx_registry_pin *p;
    int rc = pin_lookup(reg, user, pk, now, &p);
    if (rc < 0 || !p)
        return rc;
    if (memcmp(p->pk, pk, VX_PK_LEN) != 0) {
        memcpy(p->pk, pk, VX_PK_LEN);
        p->first_seen = now;
        reg->dirty = 1;
    }
    return 0;
}

const struct vx_registry_pin *vx_registry_pin_get(const struct vx_registry *reg, const char *user)
{
    return pin_find(reg, user);
}

int vx_registry_pin_remove(struct vx_registry *reg, const char *user)
{
    struct vx_registry_pin *p = pin_find(reg, user);
    if (!p)
        return VX_ERR_NOTFOUND;
    *p = reg->pins[--reg->n_pins];
    reg->dirty = 1;
    return 0;
}

/* ---- aliases ---------------------------------------------------------- */

static int target_check(const char *t)
{
    size_t n = strnlen(t, VX_ALIAS_TARGET_MAX + 1);
    if (n == 0)
        return VX_ERR_BADADDR;
    if (n > VX_ALIAS_TARGET_MAX)
        return VX_ERR_TOOBIG;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
            return VX_ERR_BADADDR;
    return 0;
}

static struct reg_alias *alias_find(const struct vx_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_aliases; i++)
        if (strcmp(reg->aliases[i].name, name) == 0)
            return &reg->aliases[i];
    return NULL;
}

int vx_registry_alias_set(struct vx_registry *reg, const char *name, const char *target)
{
    struct reg_alias *a;
    int rc;
    if ((rc = vx_label_check(name)) < 0 || (rc = target_check(target)) < 0)
        return rc;
    a = alias_find(reg, name);
    if (!a) {
        if (reg->n_aliases == VX_REGISTRY_MAX_ALIASES)
            return VX_ERR_LIMIT;
        a = &reg->aliases[reg->n_aliases++];
        strcpy(a->name, name);
    }
    strcpy(a->target, target);
    reg->dirty = 1;
    return 0;
}

const char *vx_registry_alias_get(const struct vx_registry *reg, const char *name)
{
    struct reg_alias *a = alias_find(reg, name);
    return a ? a->target : NULL;
}

int vx_registry_alias_remove(struct vx_registry *reg, const char *name)
{
    struct reg_alias *a = alias_find(reg, name);
    if (!a)
        return VX_ERR_NOTFOUND;
    *a = reg->aliases[--reg->n_aliases];
    reg->dirty = 1;
    return 0;
}

void vx_registry_foreach_alias(const struct vx_registry *reg,
                               int (*cb)(const char *name, const char *target, void *arg),
                               void *arg)
{
    for (size_t i = 0; i < reg->n_aliases; i++)
        if (cb(reg->aliases[i].name, reg->aliases[i].target, arg))
            return;
}

/* ---- file format ------------------------------------------------------ */

static void put_str8(struct vx_wcur *w, const char *s)
{
    size_t n = strlen(s);
    vx_wcur_u8(w, (uint8_t)n);
    vx_wcur_bytes(w, s, n);
}

static void put_record(struct vx_wcur *w, const struct vx_record *r)
{
    uint8_t buf[VX_RECORD_MAX];
    int n = vx_record_encode(r, buf, sizeof(buf));
    if (n < 0) {
        /* Only verified records get in, so this is a bug; write an empty
         * record, which load drops. */
        log_warn(LD_REGISTRY, "cannot encode a %s record: %s", vx_record_type_name(r->type),
                 vx_strerror(n));
        n = 0;
    }
    vx_wcur_u16(w, (uint16_t)n);
    vx_wcur_bytes(w, buf, (size_t)n);
}

/* Serialize into a malloc'd buffer. */
static int serialize(const struct vx_registry *reg, uint8_t **out, size_t *len)
{
    struct vx_wcur w;
    uint8_t *buf = malloc(FILE_MAX);
    if (!buf)
        return VX_ERR_NOMEM;
    vx_wcur_init(&w, buf, FILE_MAX - SUM_LEN);
    vx_wcur_bytes(&w, MAGIC FORMAT_VERSION, MAGIC_LEN + 2);
    vx_wcur_u32(&w, (uint32_t)reg->n_peers);
    vx_wcur_u32(&w, (uint32_t)reg->n_svcs);
    vx_wcur_u32(&w, (uint32_t)reg->n_pins);
    vx_wcur_u32(&w, (uint32_t)reg->n_aliases);
    for (size_t i = 0; i < reg->n_peers; i++) {
        const struct vx_registry_peer *p = &reg->peers[i];
        vx_wcur_u64(&w, p->last_seen);
        vx_wcur_u32(&w, p->successes);
        vx_wcur_u32(&w, p->failures);
        vx_wcur_u32(&w, p->rtt_ms);
        put_record(&w, &p->rec);
    }
    for (size_t i = 0; i < reg->n_svcs; i++)
        put_record(&w, &reg->svcs[i].rec);
    for (size_t i = 0; i < reg->n_pins; i++) {
        put_str8(&w, reg->pins[i].user);
        vx_wcur_bytes(&w, reg->pins[i].pk, VX_PK_LEN);
        vx_wcur_u64(&w, reg->pins[i].first_seen);
    }
    for (size_t i = 0; i < reg->n_aliases; i++) {
        put_str8(&w, reg->aliases[i].name);
        put_str8(&w, reg->aliases[i].target);
    }
    if (w.err) {
        free(buf);
        return w.err;
    }
    crypto_generichash(buf + w.off, SUM_LEN, buf, w.off, NULL, 0);
    *out = buf;
    *len = w.off + SUM_LEN;
    return 0;
}

int vx_registry_save(struct vx_registry *reg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!reg->path)
        return 0;
    if (reg->readonly)
        return VX_ERR_PERM;
    if ((rc = serialize(reg, &buf, &len)) < 0)
        return rc;
    rc = vx_file_write_atomic(reg->path, buf, len, 0600);
    free(buf);
    if (rc < 0) {
        log_warn(LD_REGISTRY, "cannot save the registry to %s: %s", reg->path,
                 rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
        return rc;
    }
    reg->dirty = 0;
    return 0;
}

/* Read a str8 into out (cap bytes incl. NUL); a bad one poisons the cursor. */
static void get_str8(struct vx_rcur *c, char *out, size_t cap)
{
    uint8_t n = 0;
    const uint8_t *p;
    out[0] = 0;
    vx_rcur_u8(c, &n);
    if (n >= cap) {
        vx_rcur_fail(c, VX_ERR_CORRUPT);
        return;
    }
    if (vx_rcur_ptr(c, &p, n) < 0)
        return;
    memcpy(out, p, n);
    out[n] = 0;
    if (strlen(out) != n)
        vx_rcur_fail(c, VX_ERR_CORRUPT);
}

/* Decode and verify one record; returns 0 or why it is to be dropped. */
static int get_record(struct vx_rcur *c, struct vx_record *r, int type, uint64_t now)
{
    uint16_t n = 0;
    const uint8_t *p;
    int rc;
    vx_rcur_u16(c, &n);
    if (vx_rcur_ptr(c, &p, n) < 0)
        return c->err;
    if ((rc = vx_record_parse(r, p, n, now)) < 0)
        return rc;
    return r->type == type ? 0 : VX_ERR_INVAL;
}

/* Parse a checksummed image into reg (already cleared).  Framing errors
 * make the whole file corrupt; entries that fail checks are dropped. */
static int parse_image(struct vx_registry *reg, const uint8_t *data, size_t len, uint64_t now)
{
    uint8_t sum[SUM_LEN];
    struct vx_rcur c;
    uint32_t np = 0, ns = 0, npin = 0, na = 0;
    struct vx_record rec;

    if (len < MAGIC_LEN + 2 || memcmp(data, MAGIC, MAGIC_LEN) != 0)
        return VX_ERR_CORRUPT;
    if (memcmp(data + MAGIC_LEN, FORMAT_VERSION, 2) != 0) {
        /* Two ASCII digits that we do not know: a newer format. */
        if (data[MAGIC_LEN] >= '0' && data[MAGIC_LEN] <= '9' && data[MAGIC_LEN + 1] >= '0' &&
            data[MAGIC_LEN + 1] <= '9')
            return VX_ERR_VERSION;
        return VX_ERR_CORRUPT;
    }
    if (len < MAGIC_LEN + 2 + 16 + SUM_LEN)
        return VX_ERR_CORRUPT;
    crypto_generichash(sum, SUM_LEN, data, len - SUM_LEN, NULL, 0);
    if (sodium_memcmp(sum, data + len - SUM_LEN, SUM_LEN) != 0)
        return VX_ERR_CORRUPT;

    vx_rcur_init(&c, data + MAGIC_LEN + 2, len - MAGIC_LEN - 2 - SUM_LEN);
    vx_rcur_u32(&c, &np);
    vx_rcur_u32(&c, &ns);
    vx_rcur_u32(&c, &npin);
    vx_rcur_u32(&c, &na);
    if (c.err || np > VX_REGISTRY_MAX_PEERS || ns > VX_REGISTRY_MAX_SERVICES ||
        npin > VX_REGISTRY_MAX_PINS || na > VX_REGISTRY_MAX_ALIASES)
        return VX_ERR_CORRUPT;
    for (uint32_t i = 0; i < np && !c.err; i++) {
        struct vx_registry_peer p = {0};
        vx_rcur_u64(&c, &p.last_seen);
        vx_rcur_u32(&c, &p.successes);
        vx_rcur_u32(&c, &p.failures);
        vx_rcur_u32(&c, &p.rtt_ms);
        if (get_record(&c, &p.rec, VX_REC_NODE, now) < 0 || peer_find(reg, p.rec.u.node.node_id))
            reg->dropped_on_load++;
        else
            reg->peers[reg->n_peers++] = p;
    }
    for (uint32_t i = 0; i < ns && !c.err; i++) {
        if (get_record(&c, &rec, VX_REC_SERVICE, now) < 0 ||
            vx_registry_service_put(reg, &rec, now) < 0)
            reg->dropped_on_load++;
    }
    for (uint32_t i = 0; i < npin && !c.err; i++) {
        char user[VX_LABEL_MAX + 1];
        uint8_t pk[VX_PK_LEN];
        uint64_t first = 0;
        get_str8(&c, user, sizeof(user));
        vx_rcur_bytes(&c, pk, sizeof(pk));
        vx_rcur_u64(&c, &first);
        if (c.err)
            break;
        if (vx_label_check(user) < 0 || pin_find(reg, user))
            reg->dropped_on_load++;
        else
            pin_add(reg, user, pk, first);
    }
    for (uint32_t i = 0; i < na && !c.err; i++) {
        char name[VX_LABEL_MAX + 1], target[VX_ALIAS_TARGET_MAX + 1];
        get_str8(&c, name, sizeof(name));
        get_str8(&c, target, sizeof(target));
        if (c.err)
            break;
        if (vx_registry_alias_set(reg, name, target) < 0)
            reg->dropped_on_load++;
    }
    if (c.err || vx_rcur_left(&c) != 0)
        return VX_ERR_CORRUPT;
    return 0;
}

/* Remove "<file>.tmp.*" left by saves interrupted by a crash. */
static void remove_stale_temps(const char *path)
{
    char *d = strdup(path), *b = strdup(path);
    char prefix[512], full[4096];
    DIR *dir;
    struct dirent *e;

    if (!d || !b)
        goto out;
    snprintf(prefix, sizeof(prefix), "%s.tmp.", basename(b));
    dir = opendir(dirname(d));
    if (!dir)
        goto out;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (vx_path_join(full, sizeof(full), d, e->d_name) == 0 && unlink(full) == 0)
            log_debug(LD_REGISTRY, "removed stale temporary file %s", full);
    }
    closedir(dir);
out:
    free(d);
    free(b);
}

int vx_registry_load(struct vx_registry *reg, uint64_t now)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    clear_all(reg);
    reg->dropped_on_load = 0;
    reg->readonly = 0;
    reg->dirty = 0;
    if (!reg->path)
        return 0;
    remove_stale_temps(reg->path);
    rc = vx_file_read(reg->path, FILE_MAX, &data, &len);
    if (rc == VX_ERR_NOTFOUND)
        return 0;
    if (rc == VX_ERR_TOOBIG || rc == VX_ERR_INVAL) {
        rc = VX_ERR_CORRUPT;
    } else if (rc < 0) {
        log_warn(LD_REGISTRY, "cannot read the registry %s: %s", reg->path,
                 rc == VX_ERR_SYS ? strerror(errno) : vx_strerror(rc));
        return rc;
    } else {
        rc = parse_image(reg, data, len, now);
    }
    free(data);

    if (rc == VX_ERR_VERSION) {
        clear_all(reg);
        reg->readonly = 1;
        log_warn(LD_REGISTRY,
                 "%s was written by a newer VX6 (unknown format version); "
                 "leaving it alone and not saving the registry",
                 reg->path);
        return rc;
    }
    if (rc == VX_ERR_CORRUPT) {
        char aside[4096];
        clear_all(reg);
        reg->dropped_on_load = 0;
        snprintf(aside, sizeof(aside), "%s", reg->path);
        char *dot = strrchr(aside, '/');
        dot = strrchr(dot ? dot : aside, '.');
        if (dot)
            *dot = 0;
        size_t l = strlen(aside);
        snprintf(aside + l, sizeof(aside) - l, ".corrupt-%llu", (unsigned long long)now);
        if (rename(reg->path, aside) == 0)
            log_warn(LD_REGISTRY, "the registry %s is damaged; kept it as %s and started empty",
                     reg->path, aside);
        else
            log_warn(LD_REGISTRY,
                     "the registry %s is damaged and cannot be moved aside (%s); "
                     "started empty",
                     reg->path, strerror(errno));
        return rc;
    }
    if (reg->dropped_on_load)
        log_info(LD_REGISTRY, "registry: dropped %zu expired or invalid entries",
                 reg->dropped_on_load);
    log_debug(LD_REGISTRY, "registry loaded: %zu peers, %zu services, %zu pins, %zu aliases",
              reg->n_peers, reg->n_svcs, reg->n_pins, reg->n_aliases);
    reg->dirty = reg->dropped_on_load != 0;
    return 0;
}
