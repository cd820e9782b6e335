/* xdp.c — loader for the XDP classifier, through the bpftool skeleton. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/xdp.h"
#include "dht/dhtmsg.h"
#include "lib/err.h"
#include "lib/log.h"

static __thread char last_error[256];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    log_warn(LD_BPF, "%s", last_error);
    return err;
}

const char *vx_xdp_last_error(void)
{
    return last_error;
}

const char *vx_xdp_mode_name(enum vx_xdp_mode mode)
{
    switch (mode) {
    case VX_XDP_MODE_NATIVE:
        return "native";
    case VX_XDP_MODE_GENERIC:
        return "generic";
    case VX_XDP_MODE_NONE:
        return "none";
    }
    return "?";
}

const char *vx_xdp_class_name(enum vx_xdp_class cls)
{
    static const char *const names[VX_XDP_CLASS_COUNT] = {"other", "dht", "quic", "tcp"};

    return (unsigned)cls < VX_XDP_CLASS_COUNT ? names[cls] : "?";
}

const char *vx_xdp_drop_name(enum vx_xdp_drop why)
{
    static const char *const names[VX_XDP_DROP_COUNT] = {"blocked", "udp_trunc", "udp_len", "short",
                                                         "rate"};

    return (unsigned)why < VX_XDP_DROP_COUNT ? names[why] : "?";
}

void vx_xdp_limits_default(struct vx_xdp_limits *lim)
{
    lim->node_port = 4242;
    lim->udp_rate_pps = VX_XDP_DEFAULT_RATE;
    lim->udp_burst = VX_XDP_DEFAULT_BURST;
}

size_t vx_xdp_default_rules(struct vx_xdp_rule *rules, size_t max)
{
    if (max < 2)
        return 0;
    memset(rules, 0, 2 * sizeof(*rules));
    /* DHT: version byte, then a message type below 16 (src/dht/dhtmsg.h). */
    rules[0].mask[0] = 0xff;
    rules[0].mask[1] = 0xf0;
    rules[0].value[0] = VX_DHTMSG_VERSION;
    rules[0].value[1] = 0x00;
    rules[0].min_len = VX_DHTMSG_HDR_LEN;
    rules[0].cls = VX_XDP_CLASS_DHT;
    /* QUIC: everything else, as in vx6d's own demultiplexer.  The fixed bit
     * (0x40) cannot be relied on: ngtcp2 peers grease it (RFC 9287), so a
     * short-header packet may start with anything but 0x80.  21 bytes is
     * the shortest packet a peer can send: header, packet number, tag. */
    rules[1].min_len = 21;
    rules[1].cls = VX_XDP_CLASS_QUIC;
    return 2;
}

#ifdef HAVE_XDP

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "../bpf/vx6_xdp.h"
#include "bpf/vx6_xdp.skel.h"

_Static_assert((int)VX_XDP_CLASS_COUNT == (int)VX6_XDP_CLASS_COUNT, "class enums differ");
_Static_assert((int)VX_XDP_CLASS_TCP == (int)VX6_XDP_CLASS_TCP, "class enums differ");
_Static_assert((int)VX_XDP_DROP_COUNT == (int)VX6_XDP_DROP_COUNT, "drop enums differ");
_Static_assert((int)VX_XDP_DROP_RATE == (int)VX6_XDP_DROP_RATE, "drop enums differ");
_Static_assert(VX_XDP_MAX_RULES == VX6_XDP_MAX_RULES, "rule table sizes differ");
_Static_assert(VX6_XDP_RULE_WINDOW == 8, "rule window differs");

#define VX6_PROG_NAME "vx6_xdp"

struct vx_xdp {
    struct vx6_xdp_bpf *skel; /* NULL when adopted with vx_xdp_open() */
    int prog_fd;
    int cfg_fd, stats_fd, block_fd, rate_fd;
    int owns_fds; /* adopted: the fds above are ours to close */
    int ifindex;  /* 0 = not attached */
    char ifname[IF_NAMESIZE];
    enum vx_xdp_mode mode;
    uint32_t prog_id;
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    enum vx_log_level l = level == LIBBPF_WARN ? VX_LOG_WARN : VX_LOG_DEBUG;
    char line[512];
    size_t n;

    if (!vx_log_enabled(LD_BPF, l))
        return 0;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    vx_log(LD_BPF, l, "%s", line); /* libbpf prefixes "libbpf: " */
    return 0;
}

static void set_print_once(void)
{
    static int done;

    if (!done) {
        libbpf_set_print(libbpf_log);
        done = 1;
    }
}

int vx_xdp_available(void)
{
    return 1;
}

static uint32_t mode_flags(enum vx_xdp_mode mode)
{
    return mode == VX_XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

static int perm_error(void)
{
    return fail(VX_ERR_PERM, "XDP needs CAP_NET_ADMIN and CAP_BPF");
}

static int config_write(int fd, const struct vx6_xdp_config *cfg)
{
    uint32_t zero = 0;

    if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY) < 0)
        return fail(errno == EPERM ? VX_ERR_PERM : VX_ERR_SYS,
                    "cannot write the XDP config map: %s", strerror(errno));
    return 0;
}

static int config_read(int fd, struct vx6_xdp_config *cfg)
{
    uint32_t zero = 0;

    if (bpf_map_lookup_elem(fd, &zero, cfg) < 0)
        return fail(VX_ERR_SYS, "cannot read the XDP config map: %s", strerror(errno));
    return 0;
}

static int check_limits(const struct vx_xdp_limits *lim)
{
    if (lim->node_port == 0)
        return fail(VX_ERR_INVAL, "XDP: the node port must not be 0");
    if (lim->udp_rate_pps > 1000000000u)
        return fail(VX_ERR_INVAL, "XDP: rate %u pps is above 1e9", lim->udp_rate_pps);
    return 0;
}

static void limits_to_config(const struct vx_xdp_limits *lim, struct vx6_xdp_config *cfg)
{
    cfg->port = lim->node_port;
    cfg->rate_pps = lim->udp_rate_pps;
    cfg->burst = lim->udp_burst ? lim->udp_burst : 1;
}

static int rules_to_config(const struct vx_xdp_rule *rules, size_t n, struct vx6_xdp_config *cfg)
{
    uint16_t min_payload = UINT16_MAX;

    if (n > VX6_XDP_MAX_RULES)
        return fail(VX_ERR_TOOBIG, "XDP: at most %d rules", VX6_XDP_MAX_RULES);
    memset(cfg->rules, 0, sizeof(cfg->rules));
    for (size_t i = 0; i < n; i++) {
        struct vx6_xdp_rule *r = &cfg->rules[i];

        if ((unsigned)rules[i].cls >= VX_XDP_CLASS_COUNT)
            return fail(VX_ERR_INVAL, "XDP: rule %zu has no valid class", i);
        for (int b = 0; b < VX6_XDP_RULE_WINDOW; b++) {
            if (rules[i].value[b] & ~rules[i].mask[b])
                return fail(VX_ERR_INVAL, "XDP: rule %zu value has bits outside its mask", i);
            /* A masked byte must be inside the minimal payload. */
            if (rules[i].mask[b] && rules[i].min_len < b + 1)
                return fail(VX_ERR_INVAL, "XDP: rule %zu tests byte %d beyond min_len %u", i, b,
                            rules[i].min_len);
        }
        memcpy(r->mask, rules[i].mask, sizeof(r->mask));
        memcpy(r->value, rules[i].value, sizeof(r->value));
        r->min_len = rules[i].min_len;
        r->class_id = (uint8_t)rules[i].cls;
        if (rules[i].min_len < min_payload)
            min_payload = rules[i].min_len;
    }
    cfg->nrules = (uint32_t)n;
    /* UDP to the node port that matches no rule must still be as long as
     * the shortest known header. */
    cfg->min_payload = n ? min_payload : 0;
    return 0;
}

static int load(const struct vx_xdp_limits *lim, struct vx_xdp **out)
{
    struct vx_xdp_limits def;
    struct vx6_xdp_config cfg;
    struct vx_xdp_rule rules[VX_XDP_MAX_RULES];
    struct bpf_prog_info info;
    uint32_t len = sizeof(info);
    struct vx_xdp *x;
    int err;

    *out = NULL;
    set_print_once();
    if (!lim) {
        vx_xdp_limits_default(&def);
        lim = &def;
    }
    if ((err = check_limits(lim)) < 0)
        return err;
    memset(&cfg, 0, sizeof(cfg));
    limits_to_config(lim, &cfg);
    if ((err = rules_to_config(rules, vx_xdp_default_rules(rules, VX_XDP_MAX_RULES), &cfg)) < 0)
        return err;

    x = calloc(1, sizeof(*x));
    if (!x)
        return fail(VX_ERR_NOMEM, "XDP: out of memory");
    x->mode = VX_XDP_MODE_NONE;
    x->skel = vx6_xdp_bpf__open_and_load();
    if (!x->skel) {
        int e = errno;

        free(x);
        if (e == EPERM || e == EACCES)
            return perm_error();
        return fail(VX_ERR_SYS, "cannot load the XDP program: %s", strerror(e));
    }
    x->prog_fd = bpf_program__fd(x->skel->progs.vx6_xdp);
    x->cfg_fd = bpf_map__fd(x->skel->maps.vx6_config);
    x->stats_fd = bpf_map__fd(x->skel->maps.vx6_stats);
    x->block_fd = bpf_map__fd(x->skel->maps.vx6_block);
    x->rate_fd = bpf_map__fd(x->skel->maps.vx6_rate);
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(x->prog_fd, &info, &len) == 0)
        x->prog_id = info.id;
    if ((err = config_write(x->cfg_fd, &cfg)) < 0) {
        vx6_xdp_bpf__destroy(x->skel);
        free(x);
        return err;
    }
    *out = x;
    return 0;
}

int vx_xdp_load(const struct vx_xdp_limits *lim, struct vx_xdp **out)
{
    int err = load(lim, out);

    if (err == 0)
        log_debug(LD_BPF, "XDP program loaded (id %u)", (*out)->prog_id);
    return err;
}

/* The name of program `id`, or "" (and 0 on success). */
static int prog_name_by_id(uint32_t id, char *name, size_t cap, int *fd_out)
{
    struct bpf_prog_info info;
    uint32_t len = sizeof(info);
    int fd = bpf_prog_get_fd_by_id(id);

    name[0] = '\0';
    if (fd < 0)
        return -errno;
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
        int e = -errno;

        close(fd);
        return e;
    }
    snprintf(name, cap, "%s", info.name);
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return 0;
}

static int ifindex_of(const char *ifname, int *ifindex)
{
    if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
        return fail(VX_ERR_INVAL, "XDP: bad interface name");
    *ifindex = (int)if_nametoindex(ifname);
    if (*ifindex == 0)
        return fail(VX_ERR_NOTFOUND, "no such interface: %s", ifname);
    return 0;
}

int vx_xdp_attach(const char *ifname, enum vx_xdp_mode mode, const struct vx_xdp_limits *lim,
                  struct vx_xdp **out)
{
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
    uint32_t flags, old_id = 0;
    int ifindex, err, old_fd = -1;
    struct vx_xdp *x;

    *out = NULL;
    if (mode != VX_XDP_MODE_NATIVE && mode != VX_XDP_MODE_GENERIC)
        return fail(VX_ERR_INVAL, "XDP: mode must be native or generic");
    if ((err = ifindex_of(ifname, &ifindex)) < 0)
        return err;
    if ((err = load(lim, &x)) < 0)
        return err;
    flags = mode_flags(mode);

    /* Replace our own leftover (a crashed daemon), never someone else's. */
    if (bpf_xdp_query_id(ifindex, flags, &old_id) == 0 && old_id != 0) {
        char name[BPF_OBJ_NAME_LEN];

        if (prog_name_by_id(old_id, name, sizeof(name), &old_fd) == 0 &&
            strcmp(name, VX6_PROG_NAME) == 0) {
            opts.old_prog_fd = old_fd;
            log_info(LD_BPF, "replacing the vx6 XDP program %u already on %s", old_id, ifname);
        } else {
            if (old_fd >= 0)
                close(old_fd);
            vx6_xdp_bpf__destroy(x->skel);
            free(x);
            return fail(VX_ERR_EXISTS, "%s already has another XDP program (id %u, \"%s\")", ifname,
                        old_id, name);
        }
    } else {
        flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
    }

    err = bpf_xdp_attach(ifindex, x->prog_fd, flags, &opts);
    if (old_fd >= 0)
        close(old_fd);
    if (err < 0) {
        vx6_xdp_bpf__destroy(x->skel);
        free(x);
        switch (-err) {
        case EPERM:
        case EACCES:
            return perm_error();
        case EOPNOTSUPP:
            return fail(VX_ERR_INVAL,
                        "%s: the kernel or driver cannot run XDP in %s mode; "
                        "try generic mode",
                        ifname, vx_xdp_mode_name(mode));
        case EEXIST:
        case EBUSY:
            return fail(VX_ERR_EXISTS, "%s already has an XDP program (possibly in the other mode)",
                        ifname);
        default:
            if (mode == VX_XDP_MODE_NATIVE)
                return fail(VX_ERR_SYS,
                            "cannot attach XDP to %s in native mode: %s; try generic mode", ifname,
                            strerror(-err));
            return fail(VX_ERR_SYS, "cannot attach XDP to %s: %s", ifname, strerror(-err));
        }
    }
    x->ifindex = ifindex;
    snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
    x->mode = mode;
    log_notice(LD_BPF, "XDP classifier attached to %s in %s mode (node port %u)", ifname,
               vx_xdp_mode_name(mode), lim ? lim->node_port : 4242);
    *out = x;
    return 0;
}

int vx_xdp_open(const char *ifname, struct vx_xdp **out)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    struct bpf_prog_info info;
    uint32_t len = sizeof(info), ids[16];
    char name[BPF_OBJ_NAME_LEN];
    struct vx_xdp *x;
    int ifindex, err, fd = -1;

    *out = NULL;
    set_print_once();
    if ((err = ifindex_of(ifname, &ifindex)) < 0)
        return err;
    err = bpf_xdp_query(ifindex, 0, &q);
    if (err < 0)
        return -err == EPERM
                       ? perm_error()
                       : fail(VX_ERR_SYS, "cannot query XDP on %s: %s", ifname, strerror(-err));
    if (q.prog_id == 0)
        return fail(VX_ERR_NOTFOUND, "no XDP program on %s", ifname);
    err = prog_name_by_id(q.prog_id, name, sizeof(name), &fd);
    if (err < 0)
        return -err == EPERM ? perm_error()
                             : fail(VX_ERR_SYS, "cannot open XDP program %u: %s", q.prog_id,
                                    strerror(-err));
    if (strcmp(name, VX6_PROG_NAME) != 0) {
        close(fd);
        return fail(VX_ERR_NOTFOUND, "the XDP program on %s is \"%s\", not vx6", ifname, name);
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        close(fd);
        return fail(VX_ERR_NOMEM, "XDP: out of memory");
    }
    x->owns_fds = 1;
    x->prog_fd = fd;
    x->cfg_fd = x->stats_fd = x->block_fd = x->rate_fd = -1;
    x->ifindex = ifindex;
    x->prog_id = q.prog_id;
    snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
    x->mode = q.attach_mode == XDP_ATTACHED_DRV ? VX_XDP_MODE_NATIVE : VX_XDP_MODE_GENERIC;

    memset(&info, 0, sizeof(info));
    info.nr_map_ids = 16;
    info.map_ids = (uintptr_t)ids;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
        err = fail(VX_ERR_SYS, "cannot list the maps of XDP program %u: %s", q.prog_id,
                   strerror(errno));
        goto out;
    }
    for (uint32_t i = 0; i < info.nr_map_ids && i < 16; i++) {
        struct bpf_map_info mi;
        uint32_t mlen = sizeof(mi);
        int mfd = bpf_map_get_fd_by_id(ids[i]);
        int *slot = NULL;

        if (mfd < 0)
            continue;
        memset(&mi, 0, sizeof(mi));
        if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) == 0) {
            if (strcmp(mi.name, "vx6_config") == 0)
                slot = &x->cfg_fd;
            else if (strcmp(mi.name, "vx6_stats") == 0)
                slot = &x->stats_fd;
            else if (strcmp(mi.name, "vx6_block") == 0)
                slot = &x->block_fd;
            else if (strcmp(mi.name, "vx6_rate") == 0)
                slot = &x->rate_fd;
        }
        if (slot && *slot < 0)
            *slot = mfd;
        else
            close(mfd);
    }
    if (x->cfg_fd < 0 || x->stats_fd < 0 || x->block_fd < 0 || x->rate_fd < 0) {
        err = fail(VX_ERR_CORRUPT, "the vx6 XDP program on %s lacks its maps", ifname);
        goto out;
    }
    *out = x;
    return 0;
out:
    vx_xdp_close(x);
    return err;
}

void vx_xdp_close(struct vx_xdp *x)
{
    if (!x)
        return;
    if (x->skel) {
        vx6_xdp_bpf__destroy(x->skel);
    } else if (x->owns_fds) {
        int fds[] = {x->prog_fd, x->cfg_fd, x->stats_fd, x->block_fd, x->rate_fd};

        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
            if (fds[i] >= 0)
                close(fds[i]);
    }
    free(x);
}

int vx_xdp_detach(struct vx_xdp *x)
{
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
    int err = 0;

    if (!x)
        return 0;
    if (x->ifindex) {
        /* Only if it is still our program (old_prog_fd -> XDP_FLAGS_REPLACE). */
        opts.old_prog_fd = x->prog_fd;
        err = bpf_xdp_detach(x->ifindex, mode_flags(x->mode), &opts);
        if (err < 0)
            err = -err == EPERM ? perm_error()
                                : fail(VX_ERR_SYS, "cannot detach XDP from %s: %s", x->ifname,
                                       strerror(-err));
        else
            log_notice(LD_BPF, "XDP classifier detached from %s", x->ifname);
    }
    vx_xdp_close(x);
    return err;
}

int vx_xdp_set_limits(struct vx_xdp *x, const struct vx_xdp_limits *lim)
{
    struct vx6_xdp_config cfg;
    int err;

    if (!x || !lim)
        return fail(VX_ERR_INVAL, "XDP: no handle or limits");
    if ((err = check_limits(lim)) < 0 || (err = config_read(x->cfg_fd, &cfg)) < 0)
        return err;
    limits_to_config(lim, &cfg);
    return config_write(x->cfg_fd, &cfg);
}

int vx_xdp_set_rules(struct vx_xdp *x, const struct vx_xdp_rule *rules, size_t n)
{
    struct vx6_xdp_config cfg;
    int err;

    if (!x || (n && !rules))
        return fail(VX_ERR_INVAL, "XDP: no handle or rules");
    if ((err = config_read(x->cfg_fd, &cfg)) < 0 || (err = rules_to_config(rules, n, &cfg)) < 0)
        return err;
    return config_write(x->cfg_fd, &cfg);
}

int vx_xdp_counters(const struct vx_xdp *x, struct vx_xdp_counters *c)
{
    int ncpu = libbpf_num_possible_cpus();
    struct vx6_xdp_stat *per;
    int err = 0;

    memset(c, 0, sizeof(*c));
    if (!x)
        return fail(VX_ERR_INVAL, "XDP: no handle");
    if (ncpu <= 0)
        return fail(VX_ERR_SYS, "cannot count CPUs: %s", strerror(-ncpu));
    per = calloc((size_t)ncpu, sizeof(*per));
    if (!per)
        return fail(VX_ERR_NOMEM, "XDP: out of memory");
    for (uint32_t k = 0; k < VX6_XDP_STAT_COUNT; k++) {
        struct vx_xdp_count *dst =
                k < VX6_XDP_CLASS_COUNT ? &c->passed[k] : &c->dropped[k - VX6_XDP_CLASS_COUNT];

        if (bpf_map_lookup_elem(x->stats_fd, &k, per) < 0) {
            err = fail(VX_ERR_SYS, "cannot read XDP counters: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < ncpu; i++) {
            dst->packets += per[i].packets;
            dst->bytes += per[i].bytes;
        }
    }
    free(per);
    return err;
}

/* "addr" or "addr/len" -> LPM key (IPv4 as IPv4-mapped IPv6), host bits zero. */
static int prefix_parse(const char *s, struct vx6_xdp_lpm_key *k)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash, *end;
    long len = -1;
    int v4;

    if (!s || strlen(s) >= sizeof(buf))
        return fail(VX_ERR_BADADDR, "bad prefix: %s", s ? s : "(null)");
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
        errno = 0;
        len = strtol(slash, &end, 10);
        if (!*slash || *end || errno)
            return fail(VX_ERR_BADADDR, "bad prefix length in %s", s);
    }
    memset(k, 0, sizeof(*k));
    if (inet_pton(AF_INET, buf, &k->addr[12]) == 1) {
        v4 = 1;
        k->addr[10] = k->addr[11] = 0xff;
    } else if (inet_pton(AF_INET6, buf, k->addr) == 1) {
        v4 = 0;
    } else {
        return fail(VX_ERR_BADADDR, "bad address in prefix %s", s);
    }
    if (len < 0)
        len = v4 ? 32 : 128;
    if (len > (v4 ? 32 : 128))
        return fail(VX_ERR_BADADDR, "prefix length too long in %s", s);
    k->prefixlen = (uint32_t)(v4 ? 96 + len : len);
    for (uint32_t bit = k->prefixlen; bit < 128; bit++)
        k->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return 0;
}

static void prefix_format(const struct vx6_xdp_lpm_key *k, char *out, size_t cap)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char a[INET6_ADDRSTRLEN];

    if (k->prefixlen >= 96 && memcmp(k->addr, mapped, 12) == 0) {
        inet_ntop(AF_INET, &k->addr[12], a, sizeof(a));
        snprintf(out, cap, "%s/%u", a, k->prefixlen - 96);
    } else {
        inet_ntop(AF_INET6, k->addr, a, sizeof(a));
        snprintf(out, cap, "%s/%u", a, k->prefixlen);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int vx_xdp_block(struct vx_xdp *x, const char *prefix)
{
    struct vx6_xdp_lpm_key k;
    struct vx6_xdp_block_val v = {0, 0};
    char txt[64];
    int err;

    if (!x)
        return fail(VX_ERR_INVAL, "XDP: no handle");
    if ((err = prefix_parse(prefix, &k)) < 0)
        return err;
    v.added_ns = now_ns();
    if (bpf_map_update_elem(x->block_fd, &k, &v, BPF_NOEXIST) < 0) {
        if (errno == EEXIST)
            return 0;
        if (errno == ENOSPC || errno == E2BIG)
            return fail(VX_ERR_LIMIT, "XDP blocklist is full (%d entries)", VX6_XDP_BLOCK_ENTRIES);
        return fail(errno == EPERM ? VX_ERR_PERM : VX_ERR_SYS, "cannot block %s: %s", prefix,
                    strerror(errno));
    }
    prefix_format(&k, txt, sizeof(txt));
    log_info(LD_BPF, "XDP: blocking %s", txt);
    return 0;
}

int vx_xdp_unblock(struct vx_xdp *x, const char *prefix)
{
    struct vx6_xdp_lpm_key k;
    char txt[64];
    int err;

    if (!x)
        return fail(VX_ERR_INVAL, "XDP: no handle");
    if ((err = prefix_parse(prefix, &k)) < 0)
        return err;
    prefix_format(&k, txt, sizeof(txt));
    if (bpf_map_delete_elem(x->block_fd, &k) < 0) {
        if (errno == ENOENT)
            return fail(VX_ERR_NOTFOUND, "%s is not on the XDP blocklist", txt);
        return fail(VX_ERR_SYS, "cannot unblock %s: %s", txt, strerror(errno));
    }
    log_info(LD_BPF, "XDP: unblocked %s", txt);
    return 0;
}

int vx_xdp_block_list(const struct vx_xdp *x, struct vx_xdp_block_entry *out, size_t max)
{
    struct vx6_xdp_lpm_key k, next;
    struct vx6_xdp_block_val v;
    int n = 0;
    void *prev = NULL;

    if (!x)
        return fail(VX_ERR_INVAL, "XDP: no handle");
    while (bpf_map_get_next_key(x->block_fd, prev, &next) == 0) {
        if ((size_t)n < max && bpf_map_lookup_elem(x->block_fd, &next, &v) == 0) {
            prefix_format(&next, out[n].prefix, sizeof(out[n].prefix));
            out[n].hits = v.hits;
        }
        n++;
        k = next;
        prev = &k;
        if (n > VX6_XDP_BLOCK_ENTRIES)
            break;
    }
    return n;
}

int vx_xdp_status(const struct vx_xdp *x, struct vx_xdp_status *st)
{
    struct vx6_xdp_config cfg;
    int err, n;

    memset(st, 0, sizeof(*st));
    if (!x)
        return fail(VX_ERR_INVAL, "XDP: no handle");
    snprintf(st->ifname, sizeof(st->ifname), "%s", x->ifname);
    st->ifindex = x->ifindex;
    st->mode = x->mode;
    st->prog_id = x->prog_id;
    if ((err = config_read(x->cfg_fd, &cfg)) < 0)
        return err;
    st->limits.node_port = cfg.port;
    st->limits.udp_rate_pps = cfg.rate_pps;
    st->limits.udp_burst = cfg.burst;
    if ((n = vx_xdp_block_list(x, NULL, 0)) < 0)
        return n;
    st->nblocked = (size_t)n;
    return vx_xdp_counters(x, &st->counters);
}

int vx_xdp_prog_fd(const struct vx_xdp *x)
{
    return x ? x->prog_fd : VX_ERR_INVAL;
}

#else /* !HAVE_XDP */

#define NO_XDP "vx6 was built without XDP support (configure --enable-xdp)"

int vx_xdp_available(void)
{
    return 0;
}

int vx_xdp_attach(const char *ifname, enum vx_xdp_mode mode, const struct vx_xdp_limits *lim,
                  struct vx_xdp **out)
{
    *out = NULL;
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_load(const struct vx_xdp_limits *lim, struct vx_xdp **out)
{
    *out = NULL;
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_open(const char *ifname, struct vx_xdp **out)
{
    *out = NULL;
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_detach(struct vx_xdp *x)
{
    return 0;
}

void vx_xdp_close(struct vx_xdp *x)
{
}

int vx_xdp_set_limits(struct vx_xdp *x, const struct vx_xdp_limits *lim)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_set_rules(struct vx_xdp *x, const struct vx_xdp_rule *rules, size_t n)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_counters(const struct vx_xdp *x, struct vx_xdp_counters *c)
{
    memset(c, 0, sizeof(*c));
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_status(const struct vx_xdp *x, struct vx_xdp_status *st)
{
    memset(st, 0, sizeof(*st));
    st->mode = VX_XDP_MODE_NONE;
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_block(struct vx_xdp *x, const char *prefix)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_unblock(struct vx_xdp *x, const char *prefix)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_block_list(const struct vx_xdp *x, struct vx_xdp_block_entry *out, size_t max)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

int vx_xdp_prog_fd(const struct vx_xdp *x)
{
    return fail(VX_ERR_NOTFOUND, NO_XDP);
}

#endif /* HAVE_XDP */
