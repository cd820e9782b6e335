/* dhtsim.c — in-process simulation of a large VX6 DHT.
 *
 * Every simulated node is a real vx_dhtcore (the same routing table, lookup
 * and protocol code as vx6d); only the transport differs: datagrams are
 * queued in memory and delivered after a random latency of 10-80 ms of
 * virtual time, and "removed" nodes silently drop everything.  The network
 * is built by joining nodes one after the other through a random earlier
 * node (bootstrap), records are published from random nodes, then looked up
 * from random live nodes with 0%, 10% and 30% of the nodes removed.
 *
 * Usage: dhtsim [-n nodes] [-r records] [-l lookups] [-s seed]
 * Prints one table line per scenario and a machine-readable RESULT line.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/identity.h"
#include "dht/core.h"
#include "lib/err.h"
#include "lib/log.h"
#include "wire/record.h"

#define UNIX0 1700000000ull

struct simnode {
    struct vx_dhtcore *core;
    struct vx_dhtaddr addr;
    int dead;
    uint64_t tick_at; /* scheduled tick, UINT64_MAX if none */
};

struct event {
    uint64_t t;
    uint64_t seq;
    uint32_t node;
    uint32_t len; /* 0: tick */
    uint8_t *data;
    struct vx_dhtaddr from;
};

static struct simnode *nodes;
static uint32_t n_nodes;
static uint64_t now_ms;
static uint64_t seq_no;
static uint64_t msgs_sent, msgs_dropped;
static uint64_t rng_state = 88172645463325252ull;

static struct event *heap;
static size_t heap_n, heap_cap;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int ev_less(const struct event *a, const struct event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct event e)
{
    size_t i;
    if (heap_n == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 65536;
        heap = realloc(heap, heap_cap * sizeof(*heap));
        if (!heap)
            abort();
    }
    e.seq = seq_no++;
    i = heap_n++;
    while (i > 0 && ev_less(&e, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = e;
}

static struct event heap_pop(void)
{
    struct event top = heap[0], last = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct event *best = &last;
        if (l < heap_n && ev_less(&heap[l], best)) {
            m = l;
            best = &heap[l];
        }
        if (r < heap_n && ev_less(&heap[r], best))
            m = r;
        if (m == i)
            break;
        heap[i] = heap[m];
        i = m;
    }
    if (heap_n)
        heap[i] = last;
    return top;
}

static uint32_t addr_to_node(const struct vx_dhtaddr *a)
{
    return ((uint32_t)a->ip[12] << 24) | ((uint32_t)a->ip[13] << 16) | ((uint32_t)a->ip[14] << 8) |
           a->ip[15];
}

static void set_clock(struct simnode *n)
{
    vx_dhtcore_set_time(n->core, now_ms, UNIX0 + now_ms / 1000);
}

static void schedule_tick(uint32_t idx)
{
    struct simnode *n = &nodes[idx];
    uint64_t d = vx_dhtcore_next_deadline(n->core);
    if (d < now_ms)
        d = now_ms;
    if (d < n->tick_at) {
        struct event e = {.t = d, .node = idx};
        n->tick_at = d;
        heap_push(e);
    }
}

static void sim_send(void *ctx, const struct vx_dhtaddr *to, const uint8_t *data, size_t len)
{
    struct simnode *from = ctx;
    uint32_t dst = addr_to_node(to);
    struct event e;
    msgs_sent++;
    if (dst >= n_nodes || nodes[dst].dead || !nodes[dst].core) {
        msgs_dropped++;
        return;
    }
    memset(&e, 0, sizeof(e));
    e.t = now_ms + 10 + rnd() % 71;
    e.node = dst;
    e.len = (uint32_t)len;
    e.data = malloc(len);
    if (!e.data)
        abort();
    memcpy(e.data, data, len);
    e.from = from->addr;
    heap_push(e);
}

/* Process events up to virtual time `until`. */
static void run_until(uint64_t until)
{
    while (heap_n && heap[0].t <= until) {
        struct event e = heap_pop();
        struct simnode *n = &nodes[e.node];
        now_ms = e.t;
        if (e.len == 0) {
            if (e.t != n->tick_at)
                continue; /* superseded */
            n->tick_at = UINT64_MAX;
            if (n->dead)
                continue;
            set_clock(n);
            vx_dhtcore_tick(n->core);
        } else {
            if (!n->dead) {
                set_clock(n);
                vx_dhtcore_input(n->core, &e.from, e.data, e.len);
            }
            free(e.data);
        }
        if (!n->dead)
            schedule_tick(e.node);
    }
    now_ms = until;
}

/* ---- scenario bookkeeping -------------------------------------------- */

struct lookup_ctx {
    uint8_t key[VX_DHT_KEY_LEN];
    int done;
    int ok;
    int err;
    uint32_t from;
    unsigned hops, messages, queried;
};

static void on_lookup(const struct vx_dht_result *res, void *arg)
{
    struct lookup_ctx *lc = arg;
    uint8_t key[VX_DHT_KEY_LEN];
    lc->done = 1;
    if (res->err == 0 && res->rec) {
        vx_record_key(res->rec, key);
        lc->ok = memcmp(key, lc->key, sizeof(key)) == 0;
    }
    lc->err = res->err;
    lc->hops = res->hops;
    lc->messages = res->messages;
    lc->queried = res->queried;
}

static int stored_total, published_done;

static void on_publish(int stored, void *arg)
{
    (void)arg;
    stored_total += stored;
    published_done++;
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static uint32_t random_live(void)
{
    for (;;) {
        uint32_t i = (uint32_t)(rnd() % n_nodes);
        if (!nodes[i].dead)
            return i;
    }
}

int main(int argc, char **argv)
{
    unsigned n_records = 200, n_lookups = 1000, churns[] = {0, 10, 30};
    struct vx_dhtcore_conf conf;
    struct vx_dhtcore_ops ops = {.send = sim_send};
    struct vx_record *recs;
    struct vx_identity ids[8];
    int opt;
    clock_t c0 = clock();

    n_nodes = 10000;
    while ((opt = getopt(argc, argv, "n:r:l:s:")) != -1) {
        switch (opt) {
        case 'n':
            n_nodes = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            n_records = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'l':
            n_lookups = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            rng_state = strtoull(optarg, NULL, 10) * 2654435761u + 1;
            break;
        default:
            fprintf(stderr, "usage: %s [-n nodes] [-r records] [-l lookups] [-s seed]\n", argv[0]);
            return 2;
        }
    }
    if (n_nodes < 2 || n_records < 1 || n_lookups < 1)
        return 2;
    if (sodium_init() < 0)
        return 1;
    vx_log_set_level(VX_LOG_NONE);

    vx_dhtcore_conf_default(&conf);
    conf.refresh_s = 0;   /* the simulated span is shorter than a refresh */
    conf.replicate_s = 0; /* and than replication */
    conf.republish_s = 86400;
    conf.store_burst = 0; /* all publishers are simulated peers */

    nodes = calloc(n_nodes, sizeof(*nodes));
    if (!nodes)
        abort();
    /* Addresses: 2001:db8:SSSS:SSSS::<index>, with about three nodes per
     * /48 so that the prefix-diversity rule is exercised. */
    uint32_t sites = n_nodes / 3 + 1;
    for (uint32_t i = 0; i < n_nodes; i++) {
        struct vx_dhtaddr *a = &nodes[i].addr;
        uint32_t site = (uint32_t)(rnd() % sites);
        a->family = 6;
        a->ip[0] = 0x20;
        a->ip[1] = 0x01;
        a->ip[2] = (uint8_t)(site >> 24);
        a->ip[3] = (uint8_t)(site >> 16);
        a->ip[4] = (uint8_t)(site >> 8);
        a->ip[5] = (uint8_t)site;
        a->ip[12] = (uint8_t)(i >> 24);
        a->ip[13] = (uint8_t)(i >> 16);
        a->ip[14] = (uint8_t)(i >> 8);
        a->ip[15] = (uint8_t)i;
        a->port = 4242;
        nodes[i].tick_at = UINT64_MAX;
    }

    /* Join: one node every 5 ms of virtual time, each through a random
     * earlier node. */
    for (uint32_t i = 0; i < n_nodes; i++) {
        uint8_t id[VX_NODE_ID_LEN];
        for (int b = 0; b < VX_NODE_ID_LEN; b += 8) {
            uint64_t r = rnd();
            memcpy(id + b, &r, 8);
        }
        run_until((uint64_t)i * 5);
        nodes[i].core = vx_dhtcore_new(&conf, id, NULL, &ops, &nodes[i]);
        set_clock(&nodes[i]);
        if (i > 0) {
            uint32_t via = (uint32_t)(rnd() % i);
            vx_dhtcore_bootstrap(nodes[i].core, &nodes[via].addr, 1);
        }
        schedule_tick(i);
    }
    run_until(now_ms + 20000);
    uint64_t join_msgs = msgs_sent;

    /* Records: USERNAME claims user0..userN, signed by a few identities,
     * published from random nodes. */
    for (int i = 0; i < 8; i++) {
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)i;
        seed[1] = 0x77;
        vx_identity_from_seed(&ids[i], seed);
    }
    recs = calloc(n_records, sizeof(*recs));
    if (!recs)
        abort();
    for (unsigned r = 0; r < n_records; r++) {
        char user[32];
        snprintf(user, sizeof(user), "user%u", r);
        uint64_t t = UNIX0 + now_ms / 1000;
        vx_record_init_username(&recs[r], user, 1, t, t + 86400);
        vx_record_sign(&recs[r], &ids[r % 8]);
        uint32_t from = random_live();
        set_clock(&nodes[from]);
        if (vx_dhtcore_publish(nodes[from].core, &recs[r], on_publish, NULL) < 0)
            fprintf(stderr, "publish %u failed\n", r);
        schedule_tick(from);
        run_until(now_ms + 20);
    }
    run_until(now_ms + 10000);

    size_t total_contacts = 0;
    for (uint32_t i = 0; i < n_nodes; i++) {
        struct vx_dhtcore_stats st;
        vx_dhtcore_stats(nodes[i].core, &st);
        total_contacts += st.contacts;
    }
    printf("dhtsim: %u nodes (k=%u, alpha=%u), join %.1f msgs/node, mean routing table %.1f "
           "contacts; %u records stored on %.1f nodes each\n",
           n_nodes, conf.k, conf.alpha, (double)join_msgs / n_nodes,
           (double)total_contacts / n_nodes, n_records,
           published_done ? (double)stored_total / published_done : 0.0);
    printf("%-8s %9s %8s %8s %8s %13s %13s\n", "removed", "lookups", "success", "hops", "p95",
           "queries/lkp", "net msgs/lkp");

    struct lookup_ctx *lc = calloc(n_lookups, sizeof(*lc));
    unsigned *hops = calloc(n_lookups, sizeof(*hops));
    if (!lc || !hops)
        abort();
    for (unsigned s = 0; s < sizeof(churns) / sizeof(churns[0]); s++) {
        /* Remove nodes until churns[s]% are gone (cumulative). */
        uint32_t want_dead = (uint32_t)((uint64_t)n_nodes * churns[s] / 100), dead = 0;
        for (uint32_t i = 0; i < n_nodes; i++)
            dead += nodes[i].dead;
        while (dead < want_dead) {
            uint32_t i = (uint32_t)(rnd() % n_nodes);
            if (!nodes[i].dead) {
                nodes[i].dead = 1;
                dead++;
            }
        }
        memset(lc, 0, n_lookups * sizeof(*lc));
        uint64_t m0 = msgs_sent;
        for (unsigned q = 0; q < n_lookups; q++) {
            uint32_t from = random_live();
            unsigned r = (unsigned)(rnd() % n_records);
            vx_record_key(&recs[r], lc[q].key);
            lc[q].from = from;
            set_clock(&nodes[from]);
            vx_dhtcore_lookup(nodes[from].core, lc[q].key, NULL, on_lookup, &lc[q]);
            schedule_tick(from);
            run_until(now_ms + 5);
        }
        run_until(now_ms + 15000);
        unsigned ok = 0, nh = 0, done = 0;
        double sum_hops = 0, sum_msgs = 0;
        for (unsigned q = 0; q < n_lookups; q++) {
            done += lc[q].done;
            sum_msgs += lc[q].messages;
            if (lc[q].ok) {
                ok++;
                sum_hops += lc[q].hops;
                hops[nh++] = lc[q].hops;
            }
        }
        if (getenv("DHTSIM_DEBUG"))
            for (unsigned q = 0; q < n_lookups; q++)
                if (!lc[q].ok) {
                    unsigned holders = 0, close_holders = 0;
                    for (uint32_t i = 0; i < n_nodes; i++) {
                        if (nodes[i].dead || !vx_dhtcore_get_value(nodes[i].core, lc[q].key))
                            continue;
                        holders++;
                        /* rank of this holder among all live nodes */
                        unsigned rank = 0;
                        for (uint32_t j = 0; j < n_nodes; j++)
                            if (!nodes[j].dead &&
                                vx_id_cmp_dist(lc[q].key, vx_dhtcore_id(nodes[j].core),
                                               vx_dhtcore_id(nodes[i].core)) < 0)
                                rank++;
                        if (rank < 20)
                            close_holders++;
                    }
                    fprintf(stderr,
                            "failed lookup %u: err %s, queried %u, live holders %u (%u among the "
                            "true 20 closest)\n",
                            q, vx_errname(lc[q].err), lc[q].queried, holders, close_holders);
                }
        qsort(hops, nh, sizeof(*hops), cmp_uint);
        double success = 100.0 * ok / n_lookups;
        double mean_hops = nh ? sum_hops / nh : 0;
        unsigned p95 = nh ? hops[(nh * 95 + 99) / 100 - 1] : 0;
        double net = (double)(msgs_sent - m0) / n_lookups;
        printf("%6u%%  %9u %7.2f%% %8.2f %8u %13.1f %13.1f\n", churns[s], n_lookups, success,
               mean_hops, p95, sum_msgs / n_lookups, net);
        printf("RESULT churn=%u lookups=%u completed=%u success=%.2f hops_mean=%.2f hops_p95=%u "
               "queries_per_lookup=%.1f net_msgs_per_lookup=%.1f\n",
               churns[s], n_lookups, done, success, mean_hops, p95, sum_msgs / n_lookups, net);
        fflush(stdout);
    }
    printf("dhtsim: %llu datagrams simulated, %.1f s CPU\n", (unsigned long long)msgs_sent,
           (double)(clock() - c0) / CLOCKS_PER_SEC);

    for (uint32_t i = 0; i < n_nodes; i++)
        vx_dhtcore_free(nodes[i].core);
    while (heap_n) {
        struct event e = heap_pop();
        free(e.data);
    }
    free(heap);
    free(nodes);
    free(recs);
    free(lc);
    free(hops);
    return 0;
}
