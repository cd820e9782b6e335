/* registry.h — the persisted local cache of discovery state.
 *
 * Holds known peers (verified NODE records with last-seen time, success and
 * failure counts, RTT), service records, username pins (USER -> Ed25519 key,
 * first-seen; like ssh known_hosts) and aliases (petname -> target string).
 *
 * The file (normally DATA_DIR/registry.bin) is binary, versioned and
 * checksummed, and is written only with vx_file_write_atomic(): after a crash
 * at any moment it holds either the old or the new content.
 *
 *     "vx6reg01"                                 magic and format version
 *     u32 peers, u32 services, u32 pins, u32 aliases
 *     peers:    u64 last_seen, u32 successes, u32 failures, u32 rtt_ms,
 *               u16 len, record
 *     services: u16 len, record
 *     pins:     u8 len, USER, [32] pk, u64 first_seen
 *     aliases:  u8 len, NAME, u8 len, TARGET
 *     [32] BLAKE2b-256 of everything above
 *
 * Loading drops records that no longer verify or have expired.  A damaged
 * file (bad magic, checksum or framing) is renamed to registry.corrupt-<unix
 * time> next to it, untouched, and the registry starts empty.  A file of an
 * unknown newer version is left alone and the registry refuses to save over
 * it.
 *
 * Capacity is bounded; when a table is full the least useful peer (expired
 * first, then oldest last-seen, then fewest successes) or service (expired
 * first, then the one expiring soonest) is evicted.  Pins and aliases are
 * never evicted: adding one to a full table fails with VX_ERR_LIMIT.
 *
 * All times are unix seconds passed by the caller (testable, no clock here).
 */
#ifndef VX6_REGISTRY_REGISTRY_H
#define VX6_REGISTRY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "wire/record.h"

#define VX_REGISTRY_MAX_PEERS    4096
#define VX_REGISTRY_MAX_SERVICES 4096
#define VX_REGISTRY_MAX_PINS     4096
#define VX_REGISTRY_MAX_ALIASES  1024
#define VX_ALIAS_TARGET_MAX      255
#define VX_REGISTRY_FILE         "registry.bin"

struct vx_registry;

struct vx_registry_peer {
    struct vx_record rec; /* a verified NODE record */
    uint64_t last_seen;   /* unix s, 0 = never answered */
    uint32_t successes;
    uint32_t failures;
    uint32_t rtt_ms; /* smoothed; 0 = unknown */
};

struct vx_registry_pin {
    char user[VX_LABEL_MAX + 1];
    uint8_t pk[VX_PK_LEN];
    uint64_t first_seen;
};

struct vx_registry_stats {
    size_t peers, services, pins, aliases;
    size_t dropped_on_load; /* invalid or expired entries skipped by the last load */
    size_t evicted;         /* entries evicted to make room since creation */
};

/* A registry stored at `path` (a file name; NULL keeps it in memory only:
 * load and save are then no-ops).  Starts empty.  Never returns NULL. */
struct vx_registry *vx_registry_new(const char *path);
void vx_registry_free(struct vx_registry *reg);

/* Replace the contents with the file's.  0 (also when the file does not
 * exist: empty registry), VX_ERR_CORRUPT (file moved aside, registry
 * empty), VX_ERR_VERSION (newer format: file kept, saving disabled) or
 * VX_ERR_SYS.  Stale temporary files of interrupted saves are removed. */
int vx_registry_load(struct vx_registry *reg, uint64_t now);
/* Write the file atomically (mode 0600).  0, VX_ERR_PERM (saving disabled
 * after VX_ERR_VERSION) or VX_ERR_SYS. */
int vx_registry_save(struct vx_registry *reg);
/* Has anything changed since the last load or save? */
int vx_registry_dirty(const struct vx_registry *reg);
void vx_registry_stats(const struct vx_registry *reg, struct vx_registry_stats *st);

/* Peers.  put: add or update a verified NODE record (kept statistics
 * survive an update).  0, VX_ERR_INVAL (not a NODE record), VX_ERR_STALE
 * (not newer than the one we have). */
int vx_registry_peer_put(struct vx_registry *reg, const struct vx_record *node, uint64_t now);
/* Record the outcome of talking to a peer: ok != 0 counts a success (and
 * sets last_seen, folds rtt_ms in when > 0), else a failure.
 * VX_ERR_NOTFOUND if the peer is unknown. */
int vx_registry_peer_result(struct vx_registry *reg, const uint8_t id[VX_NODE_ID_LEN], int ok,
                            uint32_t rtt_ms, uint64_t now);
const struct vx_registry_peer *vx_registry_peer_get(const struct vx_registry *reg,
                                                    const uint8_t id[VX_NODE_ID_LEN]);
int vx_registry_peer_remove(struct vx_registry *reg, const uint8_t id[VX_NODE_ID_LEN]);
/* Up to max unexpired peers, most useful first (recently seen, successful).
 * Returns the count. */
size_t vx_registry_best_peers(const struct vx_registry *reg, uint64_t now,
                              const struct vx_registry_peer **out, size_t max);
/* Calls cb for every peer; stops early when cb returns non-zero. */
void vx_registry_foreach_peer(const struct vx_registry *reg,
                              int (*cb)(const struct vx_registry_peer *p, void *arg), void *arg);

/* Services: verified SERVICE records.  put follows vx_record_replaces():
 * 0, VX_ERR_STALE, VX_ERR_KEYCHANGED or VX_ERR_INVAL. */
int vx_registry_service_put(struct vx_registry *reg, const struct vx_record *svc, uint64_t now);
/* Unexpired service by DHT key, or NULL. */
const struct vx_record *vx_registry_service_get(const struct vx_registry *reg,
                                                const uint8_t key[VX_DHT_KEY_LEN], uint64_t now);
int vx_registry_service_remove(struct vx_registry *reg, const uint8_t key[VX_DHT_KEY_LEN]);
void vx_registry_foreach_service(const struct vx_registry *reg,
                                 int (*cb)(const struct vx_record *svc, void *arg), void *arg);

/* Pins.  check: 0 if USER is pinned to pk, or was not pinned and now is
 * (first use); VX_ERR_KEYCHANGED if pinned to another key (nothing
 * changes); VX_ERR_BADADDR for a bad user label; VX_ERR_LIMIT when full. */
int vx_registry_pin_check(struct vx_registry *reg, const char *user, const uint8_t pk[VX_PK_LEN],
                          uint64_t now);
/* Pin USER to pk, replacing any previous pin (the `vx6 trust` command). */
int vx_registry_trust(struct vx_registry *reg, const char *user, const uint8_t pk[VX_PK_LEN],
                      uint64_t now);
const struct vx_registry_pin *vx_registry_pin_get(const struct vx_registry *reg, const char *user);
int vx_registry_pin_remove(struct vx_registry *reg, const char *user);

/* Aliases: NAME (a label) -> target (1..255 printable characters, no
 * spaces, e.g. "alice.web" or a hidden-service address).  set replaces an
 * existing alias.  VX_ERR_BADADDR, VX_ERR_TOOBIG, VX_ERR_LIMIT. */
int vx_registry_alias_set(struct vx_registry *reg, const char *name, const char *target);
/* Target string or NULL. */
const char *vx_registry_alias_get(const struct vx_registry *reg, const char *name);
int vx_registry_alias_remove(struct vx_registry *reg, const char *name);
void vx_registry_foreach_alias(const struct vx_registry *reg,
                               int (*cb)(const char *name, const char *target, void *arg),
                               void *arg);

#endif
