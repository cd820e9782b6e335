/* hsdir.c — descriptor publication and fetching decisions (no I/O). */
#include "hidden/hsdir.h"
#include "crypto/blind.h"
#include "lib/err.h"

#include <sodium.h>
#include <string.h>

int vx_hs_pub_records(const struct vx_identity *svc, const struct vx_hsdesc *d,
                      const uint8_t (*clients)[VX_X25519_LEN], size_t n_clients, uint64_t now,
                      uint32_t lifetime, uint64_t *revision, struct vx_record *out, size_t cap)
{
    uint64_t periods[2];
    size_t np = vx_blind_periods(now, periods), n = 0;
    uint8_t buf[VX_HSDESC_MAX];
    int rc = 0;

    if (lifetime == 0 || lifetime > VX_HSDESC_MAX_LIFETIME)
        return VX_ERR_INVAL;
    if (cap < np * VX_HSDESC_REPLICAS)
        return VX_ERR_TOOBIG;
    for (size_t p = 0; p < np; p++) {
        struct vx_hsdesc copy = *d;
        struct vx_blind_key bk;
        int len;

        copy.o.period = periods[p];
        copy.o.revision = *revision + 1 > now ? *revision + 1 : now;
        copy.o.expires = now + lifetime;
        len = vx_hsdesc_encode(&copy, svc, clients, n_clients, NULL, buf, sizeof(buf));
        if (len < 0)
            return len;
        if ((size_t)len > VX_RECORD_MAX_HSDESC)
            return VX_ERR_TOOBIG;
        *revision = copy.o.revision;
        if ((rc = vx_blind_keypair(svc, periods[p], &bk)) < 0)
            return rc;
        for (unsigned r = 0; r < VX_HSDESC_REPLICAS; r++) {
            struct vx_record *rec = &out[n];
            if ((rc = vx_record_init_hsdesc(rec, r, buf, (size_t)len, now)) < 0 ||
                (rc = vx_record_sign_blinded(rec, &bk)) < 0)
                break;
            n++;
        }
        vx_blind_wipe(&bk);
        if (rc < 0)
            return rc;
    }
    return (int)n;
}

uint64_t vx_hs_pub_next(uint64_t built, uint32_t lifetime)
{
    uint64_t s = vx_blind_period_start(vx_blind_period_of(built));
    uint64_t next = built + (lifetime / 2 ? lifetime / 2 : 1);
    const uint64_t change[] = {s + VX_BLIND_OVERLAP_S, s + VX_BLIND_PERIOD_S - VX_BLIND_OVERLAP_S,
                               s + VX_BLIND_PERIOD_S};

    for (size_t i = 0; i < sizeof(change) / sizeof(change[0]); i++)
        if (change[i] > built && change[i] < next)
            next = change[i];
    return next;
}

int vx_hs_fetch_init(struct vx_hs_fetch *f, const uint8_t pk[VX_PK_LEN], const uint8_t *client_sk,
                     uint64_t now, uint64_t min_revision, unsigned threshold)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->pk, pk, VX_PK_LEN);
    if (client_sk) {
        memcpy(f->client_sk, client_sk, VX_X25519_LEN);
        f->has_client_sk = 1;
    }
    f->now = now;
    f->min_revision = min_revision;
    f->threshold = threshold ? threshold : VX_HSDIR_THRESHOLD;
    if (f->threshold > VX_HSDESC_REPLICAS)
        f->threshold = VX_HSDESC_REPLICAS;
    f->n_periods = vx_blind_periods(now, f->periods);
    for (size_t p = 0; p < f->n_periods; p++) {
        uint8_t blinded[VX_PK_LEN];
        if (vx_blind_public(pk, f->periods[p], blinded) < 0) {
            vx_hs_fetch_wipe(f);
            return VX_ERR_BADADDR;
        }
        for (unsigned r = 0; r < VX_HSDESC_REPLICAS; r++) {
            struct vx_hs_slot *s = &f->slot[f->n++];
            memcpy(s->blinded, blinded, VX_PK_LEN);
            s->period = f->periods[p];
            s->replica = (uint8_t)r;
            s->err = VX_ERR_NOTFOUND;
            vx_hsdesc_key(blinded, f->periods[p], r, s->key);
        }
    }
    return 0;
}

void vx_hs_fetch_answer(struct vx_hs_fetch *f, size_t i, const struct vx_record *rec, int err)
{
    struct vx_hs_slot *s;
    uint8_t key[VX_DHT_KEY_LEN];

    if (i >= f->n || f->slot[i].state == VX_HS_SLOT_DONE)
        return;
    s = &f->slot[i];
    s->state = VX_HS_SLOT_DONE;
    s->err = err < 0 ? err : VX_ERR_NOTFOUND;
    if (!rec)
        return;
    vx_record_key(rec, key);
    if (rec->type != VX_REC_HSDESC || rec->u.hsdesc.replica != s->replica ||
        memcmp(rec->signer, s->blinded, VX_PK_LEN) != 0 || memcmp(key, s->key, sizeof(key)) != 0) {
        s->err = VX_ERR_NOTFOUND;
        return;
    }
    s->err = vx_hsdesc_decode(&s->desc, rec->u.hsdesc.desc, rec->u.hsdesc.len, f->pk,
                              f->has_client_sk ? f->client_sk : NULL, f->now);
    s->revision = s->desc.o.revision;
    crypto_generichash(s->hash, sizeof(s->hash), rec->u.hsdesc.desc, rec->u.hsdesc.len, NULL, 0);
    if (s->err == 0 && s->desc.o.period != s->period)
        s->err = VX_ERR_CORRUPT;
    if (s->err == 0 && s->revision < f->min_revision)
        s->err = VX_ERR_STALE;
    if (s->err < 0 && s->err != VX_ERR_AUTH && s->err != VX_ERR_AUTH_MISSING)
        memset(&s->desc, 0, sizeof(s->desc));
}

/* Decide within one period: 0 (accepted: *out), VX_ERR_AGAIN, or
 * VX_ERR_NOTFOUND (decided: nothing acceptable).  At once when `threshold`
 * positions returned the newest descriptor answered so far; once every
 * position has answered, the newest valid one when `threshold` positions
 * returned a valid descriptor at all.  Holders that missed a republication
 * (a STORE lost or refused) return older revisions; every answer is signed
 * with the blinded key, so the newest is the owner's own and taking it
 * cannot be abused, and an older one is never taken over it. */
static int decide_period(const struct vx_hs_fetch *f, uint64_t period, struct vx_hsdesc *out)
{
    const struct vx_hs_slot *newest = NULL;
    unsigned pending = 0, valid = 0, agree = 0;

    for (size_t i = 0; i < f->n; i++) {
        const struct vx_hs_slot *s = &f->slot[i];
        if (s->period != period)
            continue;
        if (s->state != VX_HS_SLOT_DONE) {
            pending++;
            continue;
        }
        if (s->err != 0)
            continue;
        valid++;
        if (!newest || s->revision > newest->revision)
            newest = s;
    }
    if (!newest)
        return pending ? VX_ERR_AGAIN : VX_ERR_NOTFOUND;
    for (size_t i = 0; i < f->n; i++) {
        const struct vx_hs_slot *t = &f->slot[i];
        if (t->period == period && t->state == VX_HS_SLOT_DONE && t->err == 0 &&
            t->revision == newest->revision && memcmp(t->hash, newest->hash, 32) == 0)
            agree++;
    }
    if (agree >= f->threshold || (!pending && valid >= f->threshold)) {
        *out = newest->desc;
        return 0;
    }
    return pending ? VX_ERR_AGAIN : VX_ERR_NOTFOUND;
}

int vx_hs_fetch_result(const struct vx_hs_fetch *f, struct vx_hsdesc *out)
{
    int again = 0, auth = 0, auth_missing = 0, stale = 0, corrupt = 0;

    for (size_t p = 0; p < f->n_periods; p++) {
        int rc = decide_period(f, f->periods[p], out);
        if (rc == 0)
            return 0;
        if (rc == VX_ERR_AGAIN)
            again = 1;
    }
    if (again)
        return VX_ERR_AGAIN;
    for (size_t i = 0; i < f->n; i++) {
        switch (f->slot[i].err) {
        case 0:
        case VX_ERR_NOTFOUND:
        case VX_ERR_TIMEOUT:
            break;
        case VX_ERR_AUTH:
            auth = 1;
            break;
        case VX_ERR_AUTH_MISSING:
            auth_missing = 1;
            break;
        case VX_ERR_STALE:
            stale = 1;
            break;
        default:
            corrupt = 1;
            break;
        }
    }
    if (auth_missing)
        return VX_ERR_AUTH_MISSING;
    if (auth)
        return VX_ERR_AUTH;
    if (stale)
        return VX_ERR_STALE;
    if (corrupt)
        return VX_ERR_CORRUPT;
    return VX_ERR_NOTFOUND;
}

void vx_hs_fetch_wipe(struct vx_hs_fetch *f)
{
    if (f)
        sodium_memzero(f->client_sk, sizeof(f->client_sk));
}
