/* test_dht.c — several DHT nodes on one libev loop over loopback UDP:
 * bootstrap, publish, lookup (network and cache), find_node, registry
 * learning and restart; store admission against a hand-driven peer
 * (tokens, forged, tampered and expired records, per-source rate limit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "dht/dht.h"
#include "dht/dhtmsg.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/vxtime.h"
#include "registry/registry.h"
#include "wire/record.h"
#include "testutil.h"

#define NN 8

static struct ev_loop *loop;

struct node {
    struct vx_identity id;
    struct vx_registry *reg;
    struct vx_dht *dht;
    struct sockaddr_storage addr;
    uint16_t port;
};

static void ident(struct vx_identity *id, unsigned n)
{
    uint8_t seed[32] = {0};
    seed[0] = (uint8_t)n;
    seed[1] = 0xd4;
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void test_conf(struct vx_dht_conf *conf, unsigned k)
{
    vx_dht_conf_default(conf);
    conf->core.k = k;
    conf->core.request_timeout_ms = 150;
    conf->core.lookup_timeout_ms = 2000;
}

static void loopback(struct sockaddr_storage *ss, uint16_t port)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof(*ss));
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = htons(port);
}

static void node_start(struct node *n, unsigned idx, const struct vx_dht_conf *conf)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!n->reg) {
        ident(&n->id, idx);
        n->reg = vx_registry_new(NULL);
    }
    n->dht = vx_dht_new(loop, &n->id, n->reg, conf);
    loopback(&ss, n->port);
    assert_int_equal(vx_dht_listen(n->dht, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
    assert_int_equal(vx_dht_local_addr(n->dht, &n->addr, &sl), 0);
    n->port = ntohs(((struct sockaddr_in *)&n->addr)->sin_port);
    /* Our NODE record: this loopback UDP port. */
    struct vx_endpoint ep = {.family = 4, .transports = VX_REC_TRANSPORT_QUIC, .port = n->port};
    memcpy(ep.addr, "\x7f\0\0\x01", 4);
    assert_int_equal(vx_dht_set_endpoints(n->dht, &ep, 1, 3600), 0);
}

struct result {
    int done;
    int err;
    int from_cache;
    unsigned hops, queried;
    struct vx_record rec;
};

static void on_result(const struct vx_dht_result *res, void *arg)
{
    struct result *r = arg;
    r->done = 1;
    r->err = res->err;
    r->from_cache = res->from_cache;
    r->hops = res->hops;
    r->queried = res->queried;
    if (res->rec)
        r->rec = *res->rec;
}

static void wait_result(struct result *r, double max_s)
{
    assert_true(tu_run_until(loop, &r->done, max_s));
}

static void on_published(int stored, void *arg)
{
    *(int *)arg = stored + 1;
}

static unsigned observed_n, observed_errs;
static uint64_t observed_max_ms;

static void lookup_observer(uint64_t ms, int err, void *arg)
{
    (void)arg;
    observed_n++;
    if (err)
        observed_errs++;
    if (ms > observed_max_ms)
        observed_max_ms = ms;
}

static void test_network(void **state)
{
    struct node n[NN + 1];
    struct vx_dht_conf conf;
    struct vx_record svc;
    uint8_t key[VX_DHT_KEY_LEN];
    int published = 0;
    (void)state;
    memset(n, 0, sizeof(n));
    test_conf(&conf, 4); /* k=4 of 8: most nodes do not hold a given record */

    for (int i = 0; i < NN; i++)
        node_start(&n[i], (unsigned)i, &conf);
    /* Node 0 alone: nobody to ask. */
    assert_int_equal(vx_dht_bootstrap(n[0].dht, NULL, 0), VX_ERR_NOTFOUND);
    /* Everyone at once through node 0, which does not yet vouch for anyone:
     * the first self-lookups find little, the repeated ones fill in. */
    for (int i = 1; i < NN; i++)
        assert_int_equal(vx_dht_bootstrap(n[i].dht, &n[0].addr, 1), 0);
    tu_run_for(loop, 2.5);
    for (int i = 0; i < NN; i++) {
        struct vx_dht_stats st;
        vx_dht_stats(n[i].dht, &st);
        if (getenv("DEBUG_DHT"))
            fprintf(stderr, "node %d: %zu contacts, in %llu out %llu bad %llu pending %zu\n", i,
                    st.core.contacts, (unsigned long long)st.core.msgs_in,
                    (unsigned long long)st.core.msgs_out, (unsigned long long)st.core.bad_msgs,
                    st.core.pending);
        assert_true(st.core.contacts >= 3);
        assert_true(st.listening);
    }
    /* Peers were learned into the registry with their NODE records. */
    struct vx_registry_stats rs;
    vx_registry_stats(n[0].reg, &rs);
    assert_true(rs.peers >= 3);
    const struct vx_registry_peer *p = vx_registry_peer_get(n[3].reg, n[0].id.node_id);
    assert_non_null(p);
    assert_int_equal(p->rec.u.node.endpoints[0].port, n[0].port);
    assert_true(p->successes >= 1);

    /* Node 3 publishes alice.web. */
    assert_int_equal(
            vx_record_init_service(&svc, "alice", "web", 1, vx_time_unix(), vx_time_unix() + 600),
            0);
    svc.u.service.n_ports = 1;
    svc.u.service.ports[0] = 80;
    assert_int_equal(vx_record_sign(&svc, &n[3].id), 0);
    assert_int_equal(vx_dht_publish(n[3].dht, &svc, on_published, &published), 0);
    tu_run_until(loop, &published, 3);
    assert_true(published - 1 >= 3);

    /* Every node finds it; at least one over the network.  The lookup
     * observer (the daemon's latency histogram) sees each network lookup. */
    vx_record_key(&svc, key);
    int from_net = 0;
    observed_n = observed_errs = 0;
    observed_max_ms = 0;
    for (int i = 0; i < NN; i++)
        vx_dht_set_lookup_observer(n[i].dht, lookup_observer, NULL);
    for (int i = 0; i < NN; i++) {
        struct result r = {0};
        assert_int_equal(vx_dht_lookup(n[i].dht, key, NULL, on_result, &r), 0);
        assert_false(r.done); /* never called back synchronously */
        wait_result(&r, 3);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.rec.type, VX_REC_SERVICE);
        assert_string_equal(r.rec.u.service.user, "alice");
        assert_memory_equal(r.rec.u.service.node_id, n[3].id.node_id, 32);
        if (!r.from_cache) {
            from_net++;
            assert_true(r.hops >= 1);
            assert_true(r.queried >= 1);
        }
    }
    assert_true(from_net >= 1);
    assert_true(observed_n >= (unsigned)from_net);
    assert_int_equal(observed_errs, 0);
    assert_true(observed_max_ms < 3000);
    for (int i = 0; i < NN; i++)
        vx_dht_set_lookup_observer(n[i].dht, NULL, NULL);

    /* Restricted to another signer: not found. */
    {
        struct vx_registry *empty = vx_registry_new(NULL);
        struct vx_dht *lone;
        struct result r = {0};
        /* A newcomer with an empty registry, so no cache answers. */
        n[NN].reg = empty;
        ident(&n[NN].id, NN);
        lone = vx_dht_new(loop, &n[NN].id, empty, &conf);
        struct sockaddr_storage ss;
        loopback(&ss, 0);
        assert_int_equal(vx_dht_listen(lone, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
                         0);
        assert_int_equal(vx_dht_bootstrap(lone, &n[1].addr, 1), 0);
        tu_run_for(loop, 0.4);
        assert_int_equal(vx_dht_lookup(lone, key, n[5].id.pk, on_result, &r), 0);
        wait_result(&r, 3);
        assert_int_equal(r.err, VX_ERR_NOTFOUND);
        memset(&r, 0, sizeof(r));
        assert_int_equal(vx_dht_lookup(lone, key, n[3].id.pk, on_result, &r), 0);
        wait_result(&r, 3);
        assert_int_equal(r.err, 0);
        assert_false(r.from_cache);
        /* Found records are cached in the registry: next time, no network. */
        memset(&r, 0, sizeof(r));
        assert_int_equal(vx_dht_lookup(lone, key, NULL, on_result, &r), 0);
        wait_result(&r, 1);
        assert_int_equal(r.err, 0);
        assert_true(r.from_cache);

        /* find_node: node 6's NODE record (endpoints). */
        memset(&r, 0, sizeof(r));
        assert_int_equal(vx_dht_find_node(lone, n[6].id.node_id, on_result, &r), 0);
        wait_result(&r, 3);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.rec.type, VX_REC_NODE);
        assert_int_equal(r.rec.u.node.endpoints[0].port, n[6].port);

        /* An unknown key: NOTFOUND, in bounded time. */
        uint8_t nokey[32];
        memset(nokey, 0x5c, sizeof(nokey));
        memset(&r, 0, sizeof(r));
        ev_tstamp t0 = ev_time();
        assert_int_equal(vx_dht_lookup(lone, nokey, NULL, on_result, &r), 0);
        wait_result(&r, 3);
        assert_int_equal(r.err, VX_ERR_NOTFOUND);
        assert_true(ev_time() - t0 < 2.5);
        vx_dht_free(lone);
        vx_registry_free(empty);
    }

    /* Restart node 5 from its registry alone. */
    vx_dht_free(n[5].dht);
    node_start(&n[5], 5, &conf);
    assert_int_equal(vx_dht_bootstrap(n[5].dht, NULL, 0), 0);
    tu_run_for(loop, 0.5);
    struct vx_dht_stats st;
    vx_dht_stats(n[5].dht, &st);
    assert_true(st.core.contacts >= 3);

    for (int i = 0; i < NN; i++) {
        vx_dht_free(n[i].dht);
        vx_registry_free(n[i].reg);
    }
}

/* ---- store admission, driven by hand ----------------------------------- */

struct peer {
    int fd;
    uint8_t id[32];
};

static void peer_open(struct peer *p, uint8_t idbyte)
{
    struct sockaddr_storage ss;
    loopback(&ss, 0);
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(p->fd >= 0);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
    memset(p->id, idbyte, sizeof(p->id));
}

/* Send m to the node and wait for the reply (running the loop). */
static void exchange(struct peer *p, struct node *to, struct vx_dhtmsg *m, struct vx_dhtmsg *reply,
                     uint8_t *rbuf)
{
    uint8_t buf[VX_DHTMSG_MAX];
    int n;
    memcpy(m->sender, p->id, 32);
    randombytes_buf(m->txid, sizeof(m->txid));
    n = vx_dhtmsg_encode(m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(sendto(p->fd, buf, (size_t)n, 0, (struct sockaddr *)&to->addr,
                            sizeof(struct sockaddr_in)),
                     n);
    ev_tstamp end = ev_time() + 2;
    while (ev_time() < end) {
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
        ssize_t r = recv(p->fd, rbuf, VX_DHTMSG_MAX, 0);
        if (r > 0) {
            assert_int_equal(vx_dhtmsg_decode(reply, rbuf, (size_t)r), 0);
            if (vx_dhtmsg_is_response(reply->type) && memcmp(reply->txid, m->txid, 8) == 0)
                return;
            continue; /* e.g. the node pinging us to confirm */
        }
        usleep(1000);
    }
    fail_msg("no reply");
}

static void get_token(struct peer *p, struct node *to, uint8_t token[16])
{
    struct vx_dhtmsg m, r;
    uint8_t rbuf[VX_DHTMSG_MAX];
    memset(&m, 0, sizeof(m));
    m.type = VX_DHT_FIND_NODE;
    memset(m.target, 0x99, 32);
    exchange(p, to, &m, &r, rbuf);
    assert_int_equal(r.type, VX_DHT_NODES);
    memcpy(token, r.token, 16);
}

static int store(struct peer *p, struct node *to, const uint8_t token[16],
                 const struct vx_record *rec, int tamper)
{
    uint8_t enc[VX_RECORD_MAX], rbuf[VX_DHTMSG_MAX];
    struct vx_dhtmsg m, r;
    int n = vx_record_encode(rec, enc, sizeof(enc));
    assert_true(n > 0);
    if (tamper)
        enc[5] ^= 1; /* a byte of the sequence number */
    memset(&m, 0, sizeof(m));
    m.type = VX_DHT_STORE;
    memcpy(m.token, token, 16);
    m.rec = enc;
    m.rec_len = (uint16_t)n;
    exchange(p, to, &m, &r, rbuf);
    assert_int_equal(r.type, VX_DHT_STORED);
    return -(int)r.status;
}

static void user_rec(struct vx_record *r, const char *user, const struct vx_identity *id,
                     uint64_t issued, uint64_t expires)
{
    assert_int_equal(vx_record_init_username(r, user, 1, issued, expires), 0);
    assert_int_equal(vx_record_sign(r, id), 0);
}

static void test_admission(void **state)
{
    struct node target;
    struct vx_dht_conf conf;
    struct peer a, b;
    struct vx_record rec;
    struct vx_identity signer;
    uint8_t tok_a[16], tok_b[16], zero[16] = {0};
    uint64_t now = vx_time_unix();
    (void)state;
    memset(&target, 0, sizeof(target));
    test_conf(&conf, 20);
    conf.core.store_burst = 100; /* the rate limit has its own test */
    node_start(&target, 40, &conf);
    ident(&signer, 41);
    peer_open(&a, 0xa1);
    peer_open(&b, 0xb2);
    get_token(&a, &target, tok_a);
    get_token(&b, &target, tok_b);
    assert_memory_not_equal(tok_a, tok_b, 16);

    user_rec(&rec, "carol", &signer, now, now + 600);
    /* No token, or a token issued to another address (a spoofed source). */
    assert_int_equal(store(&a, &target, zero, &rec, 0), VX_ERR_DENIED);
    assert_int_equal(store(&a, &target, tok_b, &rec, 0), VX_ERR_DENIED);
    /* Tampered: bad signature. */
    assert_int_equal(store(&a, &target, tok_a, &rec, 1), VX_ERR_BADSIG);
    /* Expired, and issued far in the future. */
    user_rec(&rec, "dave", &signer, now - 700, now - 100);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), VX_ERR_EXPIRED);
    user_rec(&rec, "erin", &signer, now + 3600, now + 7200);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), VX_ERR_INVAL);
    /* A SERVICE record claiming another node: forged. */
    struct vx_identity other;
    ident(&other, 42);
    assert_int_equal(vx_record_init_service(&rec, "carol", "web", 1, now, now + 600), 0);
    assert_int_equal(vx_record_sign(&rec, &signer), 0);
    memcpy(rec.u.service.node_id, other.node_id, 32);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), VX_ERR_PEER_ID);
    /* The genuine one is stored; a replay of it is idempotent, an older or
     * same-sequence different one is stale, someone else's is refused. */
    user_rec(&rec, "carol", &signer, now, now + 600);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), 0);
    assert_int_equal(store(&b, &target, tok_b, &rec, 0), 0);
    user_rec(&rec, "carol", &signer, now, now + 500);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), VX_ERR_STALE);
    assert_int_equal(vx_record_init_username(&rec, "carol", 9, now, now + 600), 0);
    assert_int_equal(vx_record_sign(&rec, &other), 0);
    assert_int_equal(store(&a, &target, tok_a, &rec, 0), VX_ERR_KEYCHANGED);

    /* And the stored value is served. */
    struct vx_dhtmsg m, r;
    uint8_t rbuf[VX_DHTMSG_MAX];
    memset(&m, 0, sizeof(m));
    m.type = VX_DHT_FIND_VALUE;
    vx_username_key("carol", m.target);
    exchange(&a, &target, &m, &r, rbuf);
    assert_int_equal(r.type, VX_DHT_VALUE);
    assert_int_equal(vx_record_parse(&rec, r.rec, r.rec_len, now), 0);
    assert_memory_equal(rec.signer, signer.pk, 32);

    struct vx_dht_stats st;
    vx_dht_stats(target.dht, &st);
    assert_int_equal(st.core.stores_bad_token, 2);
    assert_int_equal(st.core.stores_accepted, 2);
    close(a.fd);
    close(b.fd);
    vx_dht_free(target.dht);
    vx_registry_free(target.reg);
}

static void test_rate_limit(void **state)
{
    struct node target;
    struct vx_dht_conf conf;
    struct peer a;
    struct vx_record rec;
    struct vx_identity signer;
    uint8_t tok[16];
    uint64_t now = vx_time_unix();
    int ok = 0, limited = 0;
    (void)state;
    memset(&target, 0, sizeof(target));
    test_conf(&conf, 20);
    conf.core.store_burst = 5;
    conf.core.store_per_min = 6; /* one every 10 s */
    node_start(&target, 50, &conf);
    ident(&signer, 51);
    peer_open(&a, 0xc3);
    get_token(&a, &target, tok);
    for (int i = 0; i < 12; i++) {
        char user[16];
        snprintf(user, sizeof(user), "u%d", i);
        user_rec(&rec, user, &signer, now, now + 600);
        int rc = store(&a, &target, tok, &rec, 0);
        if (rc == 0)
            ok++;
        else if (rc == VX_ERR_LIMIT)
            limited++;
    }
    assert_int_equal(ok, 5);
    assert_int_equal(limited, 7);
    close(a.fd);
    vx_dht_free(target.dht);
    vx_registry_free(target.reg);
}

/* limits.dht_rate: requests beyond the per-source bucket get no answer at
 * all; the bucket refills at the configured rate. */
static void test_query_rate_limit(void **state)
{
    struct node target;
    struct vx_dht_conf conf;
    struct peer a;
    struct vx_dht_stats st;
    uint8_t buf[VX_DHTMSG_MAX], rbuf[VX_DHTMSG_MAX];
    int answered = 0;
    (void)state;
    memset(&target, 0, sizeof(target));
    test_conf(&conf, 20);
    conf.core.query_burst = 5;
    conf.core.query_per_s = 1;
    conf.core.query_limit_loopback = 1; /* the test peer is on 127.0.0.1 */
    node_start(&target, 70, &conf);
    peer_open(&a, 0xe5);
    for (int i = 0; i < 30; i++) {
        struct vx_dhtmsg m;
        memset(&m, 0, sizeof(m));
        m.type = VX_DHT_FIND_NODE;
        memset(m.target, i, 32);
        memcpy(m.sender, a.id, 32);
        randombytes_buf(m.txid, sizeof(m.txid));
        int n = vx_dhtmsg_encode(&m, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(sendto(a.fd, buf, (size_t)n, 0, (struct sockaddr *)&target.addr,
                                sizeof(struct sockaddr_in)),
                         n);
    }
    tu_run_for(loop, 0.3);
    for (;;) {
        struct vx_dhtmsg r;
        ssize_t n = recv(a.fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
        if (n <= 0)
            break;
        if (vx_dhtmsg_decode(&r, rbuf, (size_t)n) == 0 && r.type == VX_DHT_NODES)
            answered++;
    }
    vx_dht_stats(target.dht, &st);
    assert_int_equal(answered, 5);
    assert_int_equal(st.core.queries_rate_limited, 25);
    /* One request per second refills: after 1.2 s the source is answered. */
    tu_run_for(loop, 1.2);
    uint8_t tok[16];
    get_token(&a, &target, tok);
    close(a.fd);
    vx_dht_free(target.dht);
    vx_registry_free(target.reg);
}

static void test_garbage(void **state)
{
    struct node target;
    struct vx_dht_conf conf;
    struct peer a;
    uint8_t junk[1500];
    (void)state;
    memset(&target, 0, sizeof(target));
    test_conf(&conf, 20);
    node_start(&target, 60, &conf);
    peer_open(&a, 0xd4);
    /* Malformed datagrams are counted and dropped; the node still works. */
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i * 7 % sizeof(junk));
        randombytes_buf(junk, n);
        if (i % 2 && n > 1)
            junk[0] = 1; /* looks like ours */
        sendto(a.fd, junk, n, 0, (struct sockaddr *)&target.addr, sizeof(struct sockaddr_in));
        if (i % 20 == 19)
            tu_run_for(loop, 0.01); /* stay below the socket's receive buffer */
    }
    tu_run_for(loop, 0.1);
    uint8_t tok[16];
    get_token(&a, &target, tok);
    struct vx_dht_stats st;
    vx_dht_stats(target.dht, &st);
    if (getenv("DEBUG_DHT"))
        fprintf(stderr, "garbage: in %llu bad %llu\n", (unsigned long long)st.core.msgs_in,
                (unsigned long long)st.core.bad_msgs);
    assert_true(st.core.bad_msgs >= 150);
    close(a.fd);
    vx_dht_free(target.dht);
    vx_registry_free(target.reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_network),    cmocka_unit_test(test_admission),
            cmocka_unit_test(test_rate_limit), cmocka_unit_test(test_query_rate_limit),
            cmocka_unit_test(test_garbage),
    };
    vx_log_set_level(VX_LOG_NONE);
    if (getenv("VX6_TEST_LOG"))
        vx_log_configure(getenv("VX6_TEST_LOG"));
    loop = ev_default_loop(0);
    return cmocka_run_group_tests_name("dht", tests, NULL, NULL);
}
