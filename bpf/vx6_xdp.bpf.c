// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* vx6_xdp.bpf.c — early classification and filtering of VX6 traffic.
 *
 * Parses Ethernet (up to VX6_XDP_MAX_VLAN tags), IPv4 (options; later
 * fragments are OTHER) and IPv6 (up to VX6_XDP_MAX_EXTHDRS extension
 * headers), then UDP or TCP.  Packets to the configured node port are
 * classified DHT / QUIC (UDP, by the rule table) or TCP; everything else is
 * OTHER and passes untouched.  Drops: any packet from a blocklisted source;
 * malformed UDP to the node port; UDP to the node port over the per-prefix
 * rate.  Every pass and drop is counted per CPU.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vx6_xdp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vx6_xdp_config);
} vx6_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VX6_XDP_STAT_COUNT);
    __type(key, __u32);
    __type(value, struct vx6_xdp_stat);
} vx6_stats SEC(".maps");

/* GCRA form of a token bucket: one theoretical arrival time (ns) per prefix,
 * updated with a single compare-and-swap so CPUs never race on two fields. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, VX6_XDP_RATE_ENTRIES);
    __type(key, struct vx6_xdp_rate_key);
    __type(value, __u64);
} vx6_rate SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, VX6_XDP_BLOCK_ENTRIES);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct vx6_xdp_lpm_key);
    __type(value, struct vx6_xdp_block_val);
} vx6_block SEC(".maps");

#define ETH_P_8021Q_  0x8100
#define ETH_P_8021AD_ 0x88A8
#define IP_MF_        0x2000
#define IP_OFFMASK_   0x1fff

struct vlan_hdr_ {
    __be16 tci;
    __be16 proto;
};

struct ipv6_opt_hdr_ {
    __u8 nexthdr;
    __u8 hdrlen;
};

struct ipv6_frag_hdr_ {
    __u8 nexthdr;
    __u8 reserved;
    __be16 frag_off; /* offset << 3 | M */
    __be32 id;
};

/* Parser state: a cursor and what the network layer told us. */
struct pkt {
    void *pos;
    void *end;
    __u32 l4_len;    /* bytes the IP header claims for the transport layer */
    __u8 proto;      /* transport protocol */
    __u8 family;     /* 4 or 6 */
    __u8 first_frag; /* first fragment of a fragmented datagram */
    __u8 src[16];    /* IPv4 as IPv4-mapped IPv6 */
};

static __always_inline void count(__u32 idx, __u64 bytes)
{
    struct vx6_xdp_stat *s = bpf_map_lookup_elem(&vx6_stats, &idx);

    if (s) {
        s->packets++;
        s->bytes += bytes;
    }
}

static __always_inline int drop(enum vx6_xdp_drop why, __u64 bytes)
{
    count(VX6_XDP_STAT_DROP(why), bytes);
    return XDP_DROP;
}

static __always_inline int pass(enum vx6_xdp_class c, __u64 bytes)
{
    count(VX6_XDP_STAT_CLASS(c), bytes);
    return XDP_PASS;
}

/* Ethernet and VLAN tags; returns the inner EtherType (network order) or 0. */
static __always_inline __be16 parse_eth(struct pkt *p)
{
    struct ethhdr *eth = p->pos;
    __be16 proto;

    if ((void *)(eth + 1) > p->end)
        return 0;
    proto = eth->h_proto;
    p->pos = eth + 1;
#pragma unroll
    for (int i = 0; i < VX6_XDP_MAX_VLAN; i++) {
        struct vlan_hdr_ *vh = p->pos;

        if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
            break;
        if ((void *)(vh + 1) > p->end)
            return 0;
        proto = vh->proto;
        p->pos = vh + 1;
    }
    return proto;
}

/* 0 = parsed (p->proto is the transport), 1 = not for us (OTHER). */
static __always_inline int parse_ipv4(struct pkt *p)
{
    struct iphdr *ip = p->pos;
    __u32 hlen, tot;

    if ((void *)(ip + 1) > p->end)
        return 1;
    if (ip->version != 4 || ip->ihl < 5)
        return 1;
    hlen = ip->ihl * 4;
    if (p->pos + hlen > p->end)
        return 1;
    tot = bpf_ntohs(ip->tot_len);
    if (tot < hlen)
        return 1;
    if (ip->frag_off & bpf_htons(IP_OFFMASK_))
        return 1; /* later fragment: no transport header */
    p->first_frag = !!(ip->frag_off & bpf_htons(IP_MF_));
    p->family = 4;
    p->proto = ip->protocol;
    p->l4_len = tot - hlen;
    __builtin_memset(p->src, 0, 10);
    p->src[10] = 0xff;
    p->src[11] = 0xff;
    __builtin_memcpy(&p->src[12], &ip->saddr, 4);
    p->pos += hlen;
    return 0;
}

static __always_inline int parse_ipv6(struct pkt *p)
{
    struct ipv6hdr *ip6 = p->pos;
    __u32 left;
    __u8 nh;

    if ((void *)(ip6 + 1) > p->end)
        return 1;
    if (ip6->version != 6)
        return 1;
    left = bpf_ntohs(ip6->payload_len);
    nh = ip6->nexthdr;
    __builtin_memcpy(p->src, &ip6->saddr, 16);
    p->family = 6;
    p->pos = ip6 + 1;

    for (int i = 0; i < VX6_XDP_MAX_EXTHDRS; i++) {
        struct ipv6_opt_hdr_ *oh = p->pos;
        __u32 len;

        switch (nh) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            if ((void *)(oh + 1) > p->end)
                return 1;
            len = ((__u32)oh->hdrlen + 1) * 8;
            break;
        case IPPROTO_AH:
            if ((void *)(oh + 1) > p->end)
                return 1;
            len = ((__u32)oh->hdrlen + 2) * 4;
            break;
        case IPPROTO_FRAGMENT: {
            struct ipv6_frag_hdr_ *fh = p->pos;

            if ((void *)(fh + 1) > p->end)
                return 1;
            if (fh->frag_off & bpf_htons(0xfff8))
                return 1; /* later fragment */
            if (fh->frag_off & bpf_htons(1))
                p->first_frag = 1;
            len = sizeof(*fh);
            break;
        }
        default:
            p->proto = nh;
            p->l4_len = left;
            return 0;
        }
        if (len > left || p->pos + len > p->end)
            return 1;
        nh = oh->nexthdr;
        left -= len;
        p->pos += len;
    }
    return 1; /* too many extension headers: OTHER */
}

/* Token bucket per source prefix; 1 = over the rate. */
static __always_inline int over_rate(const struct pkt *p, const struct vx6_xdp_config *cfg)
{
    struct vx6_xdp_rate_key key = {};
    __u64 now, interval, tau, *tat, old, next;

    if (cfg->rate_pps == 0)
        return 0;
    key.family = p->family;
    if (p->family == 6)
        __builtin_memcpy(key.prefix, p->src, 8);
    else
        __builtin_memcpy(key.prefix, &p->src[12], 4);

    now = bpf_ktime_get_ns();
    interval = 1000000000ULL / cfg->rate_pps;
    tau = interval * (cfg->burst ? cfg->burst : 1);
    tat = bpf_map_lookup_elem(&vx6_rate, &key);
    if (!tat) {
        next = now + interval;
        bpf_map_update_elem(&vx6_rate, &key, &next, BPF_NOEXIST);
        return 0;
    }
    old = *tat;
    next = (old > now ? old : now) + interval;
    if (next - now > tau)
        return 1;
    /* Lost a race with another CPU: charge this packet anyway, approximately. */
    if (__sync_val_compare_and_swap(tat, old, next) != old)
        __sync_fetch_and_add(tat, interval);
    return 0;
}

/* Classify a UDP payload by the rule table; -1 = drop as too short. */
static __always_inline int classify_udp(const __u8 *pl, void *end, __u32 plen,
                                        const struct vx6_xdp_config *cfg)
{
    __u8 win[VX6_XDP_RULE_WINDOW] = {};

#pragma unroll
    for (int i = 0; i < VX6_XDP_RULE_WINDOW; i++) {
        if (i >= plen || (void *)(pl + i + 1) > end)
            break;
        win[i] = pl[i];
    }
    for (__u32 r = 0; r < VX6_XDP_MAX_RULES; r++) {
        const struct vx6_xdp_rule *rule = &cfg->rules[r];
        int match = 1;

        if (r >= cfg->nrules)
            break;
#pragma unroll
        for (int i = 0; i < VX6_XDP_RULE_WINDOW; i++)
            if ((win[i] & rule->mask[i]) != rule->value[i])
                match = 0;
        if (!match)
            continue;
        if (plen < rule->min_len)
            return -1;
        if (rule->class_id >= VX6_XDP_CLASS_COUNT)
            return VX6_XDP_CLASS_OTHER;
        return rule->class_id;
    }
    if (plen < cfg->min_payload)
        return -1;
    return VX6_XDP_CLASS_OTHER;
}

SEC("xdp")
int vx6_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u64 bytes = data_end - data;
    struct pkt p = {.pos = data, .end = data_end};
    const struct vx6_xdp_config *cfg;
    struct vx6_xdp_lpm_key lk;
    struct vx6_xdp_block_val *bv;
    __u32 zero = 0;
    __be16 proto;
    int r;

    cfg = bpf_map_lookup_elem(&vx6_config, &zero);
    if (!cfg)
        return XDP_PASS;

    proto = parse_eth(&p);
    if (proto == bpf_htons(ETH_P_IP))
        r = parse_ipv4(&p);
    else if (proto == bpf_htons(ETH_P_IPV6))
        r = parse_ipv6(&p);
    else
        return pass(VX6_XDP_CLASS_OTHER, bytes);

    /* The source is known as soon as the IP header parsed, even when the
     * rest is not ours to look at. */
    if (p.family) {
        lk.prefixlen = 128;
        __builtin_memcpy(lk.addr, p.src, 16);
        bv = bpf_map_lookup_elem(&vx6_block, &lk);
        if (bv) {
            __sync_fetch_and_add(&bv->hits, 1);
            return drop(VX6_XDP_DROP_BLOCKED, bytes);
        }
    }
    if (r != 0 || cfg->port == 0)
        return pass(VX6_XDP_CLASS_OTHER, bytes);

    if (p.proto == IPPROTO_TCP) {
        struct tcphdr *th = p.pos;

        if ((void *)(th + 1) > data_end)
            return pass(VX6_XDP_CLASS_OTHER, bytes);
        if (th->dest == bpf_htons(cfg->port))
            return pass(VX6_XDP_CLASS_TCP, bytes);
        return pass(VX6_XDP_CLASS_OTHER, bytes);
    }
    if (p.proto == IPPROTO_UDP) {
        struct udphdr *uh = p.pos;
        __u32 ulen, avail, plen;
        __u8 *pl;
        int c;

        /* The destination port is the second 16-bit word. */
        if ((void *)uh + 4 > data_end)
            return pass(VX6_XDP_CLASS_OTHER, bytes);
        if (uh->dest != bpf_htons(cfg->port))
            return pass(VX6_XDP_CLASS_OTHER, bytes);
        if ((void *)(uh + 1) > data_end || p.l4_len < sizeof(*uh))
            return drop(VX6_XDP_DROP_UDP_TRUNC, bytes);
        ulen = bpf_ntohs(uh->len);
        avail = data_end - p.pos;
        if (ulen < sizeof(*uh))
            return drop(VX6_XDP_DROP_UDP_LEN, bytes);
        if (p.first_frag) {
            /* The UDP length covers the whole datagram, this fragment less. */
            if (ulen < p.l4_len)
                return drop(VX6_XDP_DROP_UDP_LEN, bytes);
            plen = p.l4_len - sizeof(*uh);
        } else {
            if (ulen != p.l4_len || ulen > avail)
                return drop(VX6_XDP_DROP_UDP_LEN, bytes);
            plen = ulen - sizeof(*uh);
        }
        pl = (__u8 *)(uh + 1);
        c = classify_udp(pl, data_end, plen, cfg);
        if (c < 0)
            return drop(VX6_XDP_DROP_SHORT, bytes);
        if (over_rate(&p, cfg))
            return drop(VX6_XDP_DROP_RATE, bytes);
        return pass(c, bytes);
    }
    return pass(VX6_XDP_CLASS_OTHER, bytes);
}
