/* xdp.h — loader for the XDP classifier (bpf/vx6_xdp.bpf.c).
 *
 * The classifier counts VX6 traffic to the node port by class (DHT, QUIC,
 * TCP sessions, other) and drops, before the kernel stack sees them, packets
 * from blocklisted source prefixes, malformed UDP to the node port, and UDP to
 * the node port above a per-source-prefix rate (/64 for IPv6, /32 for IPv4).
 *
 * Lifetime: vx_xdp_attach() loads and attaches; the program stays attached if
 * the process exits without vx_xdp_detach() (netlink attachment), so another
 * process can adopt it with vx_xdp_open().  vx_xdp_close() forgets the handle
 * and leaves the program running; vx_xdp_detach() removes it and frees.
 *
 * Every function returns 0 (or a count) or a negative VX_ERR_* code, logs the
 * reason under LD_BPF, and leaves a one-line message for vx_xdp_last_error().
 * Notable codes:
 *   VX_ERR_NOTFOUND  no such interface / no vx6 program on it / vx6 was built
 *                    without XDP support (configure --enable-xdp)
 *   VX_ERR_PERM      "XDP needs CAP_NET_ADMIN and CAP_BPF"
 *   VX_ERR_INVAL     bad argument, or the driver cannot run native XDP
 *                    (the message suggests generic mode)
 *   VX_ERR_EXISTS    another XDP program is attached to the interface
 *   VX_ERR_BADADDR   a prefix that does not parse
 *   VX_ERR_LIMIT     the blocklist is full
 */
#ifndef VX6_DAEMON_XDP_H
#define VX6_DAEMON_XDP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct vx_xdp;

enum vx_xdp_mode {
    VX_XDP_MODE_NATIVE = 0,  /* in the driver (XDP_FLAGS_DRV_MODE) */
    VX_XDP_MODE_GENERIC = 1, /* in the core stack, any driver (XDP_FLAGS_SKB_MODE) */
    VX_XDP_MODE_NONE = 2     /* loaded but not attached */
};

/* Same values as the classifier's enums (checked at compile time). */
enum vx_xdp_class {
    VX_XDP_CLASS_OTHER = 0,
    VX_XDP_CLASS_DHT = 1,
    VX_XDP_CLASS_QUIC = 2,
    VX_XDP_CLASS_TCP = 3,
    VX_XDP_CLASS_COUNT = 4
};

enum vx_xdp_drop {
    VX_XDP_DROP_BLOCKED = 0,
    VX_XDP_DROP_UDP_TRUNC = 1,
    VX_XDP_DROP_UDP_LEN = 2,
    VX_XDP_DROP_SHORT = 3,
    VX_XDP_DROP_RATE = 4,
    VX_XDP_DROP_COUNT = 5
};

struct vx_xdp_limits {
    uint16_t node_port;    /* UDP and TCP; default 4242 */
    uint32_t udp_rate_pps; /* per source prefix; 0 = no rate limit */
    uint32_t udp_burst;    /* packets a quiet prefix may send at once */
};

#define VX_XDP_DEFAULT_RATE  2000
#define VX_XDP_DEFAULT_BURST 4000

/* A UDP classification rule: the first 8 payload bytes (zero-padded),
 * masked, equal value -> class; shorter than min_len -> dropped. */
struct vx_xdp_rule {
    uint8_t mask[8];
    uint8_t value[8];
    uint16_t min_len;
    enum vx_xdp_class cls;
};
#define VX_XDP_MAX_RULES 4

struct vx_xdp_count {
    uint64_t packets;
    uint64_t bytes;
};

/* Sums over all CPUs since the program was loaded. */
struct vx_xdp_counters {
    struct vx_xdp_count passed[VX_XDP_CLASS_COUNT];
    struct vx_xdp_count dropped[VX_XDP_DROP_COUNT];
};

struct vx_xdp_block_entry {
    char prefix[64]; /* "2001:db8::/64" or "192.0.2.0/24" */
    uint64_t hits;   /* packets dropped by this entry */
};

struct vx_xdp_status {
    char ifname[IF_NAMESIZE];
    int ifindex; /* 0 when not attached */
    enum vx_xdp_mode mode;
    uint32_t prog_id;
    struct vx_xdp_limits limits;
    size_t nblocked;
    struct vx_xdp_counters counters;
};

/* 1 if this build has XDP support, else 0. */
int vx_xdp_available(void);

void vx_xdp_limits_default(struct vx_xdp_limits *lim);

/* Load the classifier with `lim` (NULL = defaults) and attach it to `ifname`
 * in `mode` (NATIVE or GENERIC).  A vx6 program already attached there in
 * the same mode is replaced; any other program is left alone (VX_ERR_EXISTS). */
int vx_xdp_attach(const char *ifname, enum vx_xdp_mode mode, const struct vx_xdp_limits *lim,
                  struct vx_xdp **out);

/* Load without attaching (tests drive it with BPF_PROG_TEST_RUN). */
int vx_xdp_load(const struct vx_xdp_limits *lim, struct vx_xdp **out);

/* Adopt the vx6 program attached to `ifname` by this or another process. */
int vx_xdp_open(const char *ifname, struct vx_xdp **out);

/* Detach from the interface (if attached) and free.  NULL is a no-op. */
int vx_xdp_detach(struct vx_xdp *x);

/* Free the handle, leaving the program attached.  NULL is a no-op. */
void vx_xdp_close(struct vx_xdp *x);

int vx_xdp_set_limits(struct vx_xdp *x, const struct vx_xdp_limits *lim);
/* Replace the UDP rule table (n <= VX_XDP_MAX_RULES; first match wins). */
int vx_xdp_set_rules(struct vx_xdp *x, const struct vx_xdp_rule *rules, size_t n);
/* The default table: DHT ('V' 0x01, >= 4 bytes), then QUIC (fixed bit, >= 21). */
size_t vx_xdp_default_rules(struct vx_xdp_rule *rules, size_t max);

int vx_xdp_counters(const struct vx_xdp *x, struct vx_xdp_counters *c);
int vx_xdp_status(const struct vx_xdp *x, struct vx_xdp_status *st);

/* Drop every packet whose source is in `prefix` ("addr" or "addr/len",
 * IPv4 or IPv6).  Adding an existing prefix succeeds. */
int vx_xdp_block(struct vx_xdp *x, const char *prefix);
int vx_xdp_unblock(struct vx_xdp *x, const char *prefix); /* VX_ERR_NOTFOUND if absent */
/* Fill up to `max` entries; returns the number of entries in the list. */
int vx_xdp_block_list(const struct vx_xdp *x, struct vx_xdp_block_entry *out, size_t max);

/* The program's fd (owned by the handle), for BPF_PROG_TEST_RUN. */
int vx_xdp_prog_fd(const struct vx_xdp *x);

const char *vx_xdp_mode_name(enum vx_xdp_mode mode);  /* "native" */
const char *vx_xdp_class_name(enum vx_xdp_class cls); /* "dht" */
const char *vx_xdp_drop_name(enum vx_xdp_drop why);   /* "blocked" */

/* The message of this thread's last failure (never NULL, maybe ""). */
const char *vx_xdp_last_error(void);

#endif
