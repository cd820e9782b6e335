/* hsdir.h — publishing and fetching hidden-service descriptors through the
 * DHT, without I/O: which HSDESC records an owner publishes and when, and
 * how a client decides on a descriptor from what several holders return.
 *
 * Owner: for each period of vx_blind_periods(now) (the current one, and the
 * adjacent one near a boundary) one descriptor is encoded with a fresh
 * revision and wrapped in VX_HSDESC_REPLICAS HSDESC records, one per DHT
 * position, each signed with the period's blinded key.  They are published
 * again when the intro points change, before half their lifetime is over,
 * and when the period set changes (vx_hs_pub_next()).
 *
 * Client: the positions of every period of vx_blind_periods(now) are looked
 * up (want_signer: the blinded key).  Each answer is decoded; a descriptor
 * is accepted at once when at least `threshold` positions of one period
 * returned the same descriptor (same revision and bytes) and no answered
 * position holds a newer one; once every position has answered, the newest
 * valid descriptor of a period is accepted when at least `threshold` of its
 * positions returned a valid one (holders that missed a republication still
 * hold older revisions; all are signed with the blinded key, so the newest
 * is authentic).  Answers older than a revision the client already accepted
 * are ignored (replays).
 */
#ifndef VX6_HIDDEN_HSDIR_H
#define VX6_HIDDEN_HSDIR_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "hidden/descriptor.h"
#include "wire/record.h"

#define VX_HSDIR_MAX_KEYS  (2 * VX_HSDESC_REPLICAS)
#define VX_HSDIR_THRESHOLD 2

/* ---- owner ---- */

/* Build the records to publish at `now` for service key svc with the intro
 * points of d (d->o is filled per period: expires = now + lifetime).
 * *revision is the last revision used (0 at first) and is advanced; each
 * descriptor gets max(*revision + 1, now).  out receives up to
 * VX_HSDIR_MAX_KEYS records.  Returns the number of records, VX_ERR_TOOBIG
 * (the descriptor does not fit an HSDESC record: fewer clients or
 * endpoints), or an encoding error. */
int vx_hs_pub_records(const struct vx_identity *svc, const struct vx_hsdesc *d,
                      const uint8_t (*clients)[VX_X25519_LEN], size_t n_clients, uint64_t now,
                      uint32_t lifetime, uint64_t *revision, struct vx_record *out, size_t cap);

/* Unix time at which records built at `built` must be rebuilt: half the
 * lifetime later, or earlier when the set of periods changes. */
uint64_t vx_hs_pub_next(uint64_t built, uint32_t lifetime);

/* ---- client ---- */

enum vx_hs_slot_state {
    VX_HS_SLOT_PENDING = 0,
    VX_HS_SLOT_DONE,
};

struct vx_hs_slot {
    uint8_t key[VX_DHT_KEY_LEN];
    uint8_t blinded[VX_PK_LEN];
    uint64_t period;
    uint8_t replica;
    uint8_t state;
    int err; /* 0: desc valid */
    uint64_t revision;
    uint8_t hash[32]; /* of the descriptor bytes */
    struct vx_hsdesc desc;
};

struct vx_hs_fetch {
    uint8_t pk[VX_PK_LEN];
    uint8_t client_sk[VX_X25519_LEN];
    int has_client_sk;
    uint64_t now;
    uint64_t min_revision;
    unsigned threshold;
    size_t n_periods;
    uint64_t periods[2];
    size_t n;
    struct vx_hs_slot slot[VX_HSDIR_MAX_KEYS];
};

/* Start a fetch of service pk.  client_sk may be NULL; min_revision: the
 * newest revision already accepted for this period set (0: none);
 * threshold 0 means VX_HSDIR_THRESHOLD.  0 or VX_ERR_BADADDR. */
int vx_hs_fetch_init(struct vx_hs_fetch *f, const uint8_t pk[VX_PK_LEN], const uint8_t *client_sk,
                     uint64_t now, uint64_t min_revision, unsigned threshold);

/* The answer for slot i: rec is the record found (NULL with err the
 * lookup's error).  A record that is not an HSDESC for that position,
 * signed by that blinded key, counts as not found. */
void vx_hs_fetch_answer(struct vx_hs_fetch *f, size_t i, const struct vx_record *rec, int err);

/* The decision so far: 0 with *out the accepted descriptor; VX_ERR_AGAIN
 * while answers are missing and none is accepted yet; once every slot has
 * answered: VX_ERR_AUTH_MISSING / VX_ERR_AUTH (a valid descriptor needs
 * client authorization), VX_ERR_CORRUPT (descriptors found, none usable),
 * VX_ERR_STALE (only older than min_revision), VX_ERR_NOTFOUND (nothing, or
 * fewer than `threshold` valid answers in every period). */
int vx_hs_fetch_result(const struct vx_hs_fetch *f, struct vx_hsdesc *out);

/* Wipe the client key.  Accepts NULL. */
void vx_hs_fetch_wipe(struct vx_hs_fetch *f);

#endif
