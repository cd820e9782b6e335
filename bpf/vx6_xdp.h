/* vx6_xdp.h — types shared by the XDP classifier (bpf/vx6_xdp.bpf.c) and its
 * user-space loader (src/daemon/xdp.c).
 *
 * Everything here is part of the map ABI between the two: change a layout and
 * both sides must be rebuilt together (they always are; the loader embeds the
 * object through the generated skeleton).
 *
 * Multi-byte fields are in host byte order unless their name ends in _be.
 */
#ifndef VX6_BPF_VX6_XDP_H
#define VX6_BPF_VX6_XDP_H

#include <linux/types.h>

/* The DHT header as the classifier sees it (src/dht/dhtmsg.h owns it): a
 * version byte 0x01, a message type 1-8, then the rest of a 42-byte header.
 * These seed the default rule table, which the loader can rewrite.  0x01
 * lacks the QUIC fixed bit, so the two classes cannot overlap. */
#define VX6_XDP_DHT_VERSION 0x01
#define VX6_XDP_DHT_MIN_LEN 42

/* QUIC (RFC 9000 17.2/17.3): both header forms set the fixed bit.  The
 * smallest protected packet is 1 + 4 (packet number) + 16 (header-protection
 * sample) bytes with an empty connection ID. */
#define VX6_XDP_QUIC_FIXED_BIT 0x40
#define VX6_XDP_QUIC_MIN_LEN   21

#define VX6_XDP_DEFAULT_PORT 4242

/* Bounds of the parser; deeper packets are classified OTHER and passed. */
#define VX6_XDP_MAX_VLAN    2
#define VX6_XDP_MAX_EXTHDRS 6

/* Classes: a passed packet is counted in exactly one class. */
enum vx6_xdp_class {
    VX6_XDP_CLASS_OTHER = 0, /* not addressed to the node port, or no rule matched */
    VX6_XDP_CLASS_DHT = 1,   /* UDP to the node port, DHT rule matched */
    VX6_XDP_CLASS_QUIC = 2,  /* UDP to the node port, QUIC rule matched */
    VX6_XDP_CLASS_TCP = 3,   /* TCP to the node port (sessions) */
    VX6_XDP_CLASS_COUNT = 4
};

/* Drop reasons: a dropped packet is counted in exactly one reason. */
enum vx6_xdp_drop {
    VX6_XDP_DROP_BLOCKED = 0,   /* source address on the blocklist */
    VX6_XDP_DROP_UDP_TRUNC = 1, /* UDP header cut short */
    VX6_XDP_DROP_UDP_LEN = 2,   /* UDP length disagrees with the IP length */
    VX6_XDP_DROP_SHORT = 3,     /* payload shorter than the minimal DHT/QUIC header */
    VX6_XDP_DROP_RATE = 4,      /* source prefix over its UDP rate */
    VX6_XDP_DROP_COUNT = 5
};

/* Index into the per-CPU stats array: classes first, then drop reasons. */
#define VX6_XDP_STAT_CLASS(c) (c)
#define VX6_XDP_STAT_DROP(d)  (VX6_XDP_CLASS_COUNT + (d))
#define VX6_XDP_STAT_COUNT    (VX6_XDP_CLASS_COUNT + VX6_XDP_DROP_COUNT)

struct vx6_xdp_stat {
    __u64 packets;
    __u64 bytes;
};

/* One classification rule for UDP payloads to the node port.  The first
 * VX6_XDP_RULE_WINDOW payload bytes (zero-padded) are masked and compared:
 * (window & mask) == value.  Rules are tried in order; the first match gives
 * the class, and a matching payload shorter than min_len is dropped
 * (VX6_XDP_DROP_SHORT). */
#define VX6_XDP_RULE_WINDOW 8
#define VX6_XDP_MAX_RULES   4

struct vx6_xdp_rule {
    __u8 mask[VX6_XDP_RULE_WINDOW];
    __u8 value[VX6_XDP_RULE_WINDOW];
    __u16 min_len; /* minimal UDP payload length for this class */
    __u8 class_id; /* enum vx6_xdp_class */
    __u8 pad;
};

/* The single entry of the config array map. */
struct vx6_xdp_config {
    __u16 port;        /* node port (UDP and TCP); 0 = classify nothing */
    __u16 min_payload; /* UDP to the port matching no rule, shorter: dropped */
    __u32 nrules;
    __u32 rate_pps; /* per source prefix token rate; 0 = no rate limit */
    __u32 burst;    /* bucket depth in packets */
    struct vx6_xdp_rule rules[VX6_XDP_MAX_RULES];
};

/* Rate-limit bucket key: an IPv6 /64 or an IPv4 /32. */
struct vx6_xdp_rate_key {
    __u32 family; /* 4 or 6 */
    __u8 prefix[8];
    __u32 pad;
};

/* Blocklist LPM key.  IPv4 is stored as IPv4-mapped IPv6 (::ffff:a.b.c.d) so
 * one trie holds both; an IPv4 /n is then prefixlen 96 + n. */
struct vx6_xdp_lpm_key {
    __u32 prefixlen;
    __u8 addr[16];
};

struct vx6_xdp_block_val {
    __u64 hits;     /* packets dropped by this entry */
    __u64 added_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when added */
};

#define VX6_XDP_RATE_ENTRIES  65536
#define VX6_XDP_BLOCK_ENTRIES 16384

#endif
