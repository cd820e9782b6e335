/* test_hsnet.c — hidden-service descriptors through a real DHT: six nodes
 * on loopback UDP in one libev loop; an owner publishes, clients on other
 * nodes resolve (threshold over the three positions), with client
 * authorization, unknown and malformed addresses, cache and cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "dht/dht.h"
#include "hidden/hsaddr.h"
#include "hidden/hsnet.h"
#include "lib/err.h"
#include "lib/log.h"
#include "registry/registry.h"

#define NN 6

static struct ev_loop *loop;

struct node {
    struct vx_identity id;
    struct vx_registry *reg;
    struct vx_dht *dht;
    struct sockaddr_storage addr;
};
static struct node n[NN];

static void node_start(struct node *nd, unsigned idx)
{
    struct vx_dht_conf conf;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint8_t seed[32] = {(uint8_t)idx, 0x45};
    socklen_t sl;

    assert_int_equal(vx_identity_from_seed(&nd->id, seed), 0);
    nd->reg = vx_registry_new(NULL);
    vx_dht_conf_default(&conf);
    conf.core.k = 4;
    conf.core.request_timeout_ms = 150;
    conf.core.lookup_timeout_ms = 1500;
    nd->dht = vx_dht_new(loop, &nd->id, nd->reg, &conf);
    assert_int_equal(vx_dht_listen(nd->dht, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(vx_dht_local_addr(nd->dht, &nd->addr, &sl), 0);
    struct vx_endpoint ep = {.family = 4,
                             .transports = VX_REC_TRANSPORT_QUIC,
                             .port = ntohs(((struct sockaddr_in *)&nd->addr)->sin_port)};
    memcpy(ep.addr, "\x7f\0\0\x01", 4);
    assert_int_equal(vx_dht_set_endpoints(nd->dht, &ep, 1, 3600), 0);
}

static void run_for(double s)
{
    ev_tstamp end = ev_time() + s;
    while (ev_time() < end)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
}

static int setup(void **state)
{
    (void)state;
    vx_log_set_level(VX_LOG_NONE);
    loop = ev_loop_new(EVFLAG_AUTO);
    for (unsigned i = 0; i < NN; i++)
        node_start(&n[i], i);
    for (unsigned i = 1; i < NN; i++)
        if (vx_dht_bootstrap(n[i].dht, &n[0].addr, 1) < 0)
            return -1;
    run_for(1.0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NN; i++) {
        vx_dht_free(n[i].dht);
        vx_registry_free(n[i].reg);
    }
    ev_loop_destroy(loop);
    return 0;
}

struct res {
    int done, err, calls;
    struct vx_hsdesc d;
};

static void on_resolved(int err, const struct vx_hsdesc *d, void *arg)
{
    struct res *r = arg;
    r->done = 1;
    r->calls++;
    r->err = err;
    if (d)
        r->d = *d;
}

static void wait_res(struct res *r, double max_s)
{
    ev_tstamp end = ev_time() + max_s;
    while (!r->done && ev_time() < end)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
    assert_true(r->done);
}

static void intros(struct vx_hs_intro *in, size_t cnt, uint8_t tag)
{
    memset(in, 0, cnt * sizeof(*in));
    for (size_t i = 0; i < cnt; i++) {
        memcpy(in[i].node_pk, n[(i + 1) % NN].id.pk, 32);
        memset(in[i].auth_key, tag + (int)i, 32);
        memset(in[i].enc_key, 0x40 + (int)i, 32);
        in[i].n_endpoints = 1;
        in[i].ep[0].family = 4;
        in[i].ep[0].transports = 1;
        in[i].ep[0].port = (uint16_t)(5000 + i);
        memcpy(in[i].ep[0].addr, "\x7f\0\0\x01", 4);
    }
}

static void test_publish_resolve(void **state)
{
    struct vx_identity svc;
    struct vx_hs_intro in[5];
    struct vx_hs_owner_stats st;
    char addr[VX_HSADDR_LEN + 1];
    struct res r = {0};
    int err = 0;
    (void)state;

    assert_int_equal(vx_identity_generate(&svc), 0);
    assert_int_equal(vx_hsaddr_format(svc.pk, addr, sizeof(addr)), 0);
    struct vx_hs_owner *o = vx_hs_owner_new(loop, n[1].dht, &svc, "web", 0);
    vx_hs_owner_stats(o, &st);
    assert_int_equal(st.records, 0); /* nothing before intro points exist */
    intros(in, 5, 0x20);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 5), 0);
    vx_hs_owner_stats(o, &st);
    assert_true(st.records == 3 || st.records == 6);
    assert_int_equal(st.publishes, 1);
    assert_true(st.next_unix > 0);
    run_for(1.0);

    struct vx_hs_client *c = vx_hs_client_new(loop, n[4].dht);
    ev_tstamp t0 = ev_time();
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    assert_false(r.done); /* never from inside the call */
    wait_res(&r, 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.d.n_intros, 5);
    assert_memory_equal(r.d.intros[0].auth_key, in[0].auth_key, 32);
    assert_int_equal(r.d.intros[3].flags, VX_HS_INTRO_STANDBY);
    assert_int_equal(r.d.intros[1].flags, 0);
    assert_true(ev_time() - t0 < 3.0);
    uint64_t rev1 = r.d.o.revision;

    /* intro points change: a new revision, found by another node */
    intros(in, 3, 0x60);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 3), 0);
    run_for(1.0);
    struct vx_hs_client *c2 = vx_hs_client_new(loop, n[5].dht);
    memset(&r, 0, sizeof(r));
    char with_suffix[80];
    snprintf(with_suffix, sizeof(with_suffix), "%s.vx6", addr);
    assert_non_null(vx_hs_resolve(c2, with_suffix, NULL, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.d.n_intros, 3);
    assert_true(r.d.o.revision > rev1);
    assert_memory_equal(r.d.intros[0].auth_key, in[0].auth_key, 32);

    /* the first client answers from its cache at once */
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    t0 = ev_time();
    wait_res(&r, 1);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.d.o.revision, rev1);
    /* after a flush it fetches the new revision */
    vx_hs_client_flush(c);
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, 0);
    assert_true(r.d.o.revision > rev1);

    /* a cancelled resolve never calls back */
    memset(&r, 0, sizeof(r));
    vx_hs_client_flush(c);
    struct vx_hs_resolve *h = vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err);
    assert_non_null(h);
    vx_hs_resolve_cancel(h);
    run_for(2.0);
    assert_int_equal(r.calls, 0);

    /* changes in quick succession go out as one revision, the last one */
    vx_hs_owner_stats(o, &st);
    uint64_t pubs = st.publishes;
    intros(in, 4, 0x70);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 4), 0); /* at once */
    intros(in, 5, 0x80);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 5), 0); /* coalesced */
    intros(in, 2, 0x90);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 2), 0); /* coalesced */
    vx_hs_owner_stats(o, &st);
    assert_int_equal(st.publishes, pubs + 1);
    run_for(1.0);
    vx_hs_owner_stats(o, &st);
    assert_int_equal(st.publishes, pubs + 2);
    vx_hs_client_flush(c);
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.d.n_intros, 2);
    assert_memory_equal(r.d.intros[0].auth_key, in[0].auth_key, 32);

    vx_hs_owner_free(o);
    vx_hs_client_free(c);
    vx_hs_client_free(c2);
}

static void test_errors(void **state)
{
    struct vx_identity unknown, svc;
    char addr[VX_HSADDR_LEN + 1];
    struct res r = {0};
    int err = 0;
    (void)state;

    struct vx_hs_client *c = vx_hs_client_new(loop, n[3].dht);
    /* malformed: refused at once */
    assert_null(vx_hs_resolve(c, "notanaddress", NULL, 0, 0, on_resolved, &r, &err));
    assert_int_equal(err, VX_ERR_BADADDR);
    assert_int_equal(vx_identity_generate(&unknown), 0);
    assert_int_equal(vx_hsaddr_format(unknown.pk, addr, sizeof(addr)), 0);
    addr[3] = addr[3] == 'a' ? 'b' : 'a';
    assert_null(vx_hs_resolve(c, addr, NULL, 0, 0, on_resolved, &r, &err));
    assert_int_equal(err, VX_ERR_BADADDR);

    /* valid but never published: NOTFOUND in bounded time */
    assert_int_equal(vx_hsaddr_format(unknown.pk, addr, sizeof(addr)), 0);
    ev_tstamp t0 = ev_time();
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 2000, on_resolved, &r, &err));
    wait_res(&r, 4);
    assert_int_equal(r.err, VX_ERR_NOTFOUND);
    assert_true(ev_time() - t0 < 2.5);

    /* client authorization */
    uint8_t sk[32], pk[1][32], wrong[32];
    struct vx_hs_intro in[3];
    randombytes_buf(sk, 32);
    randombytes_buf(wrong, 32);
    crypto_scalarmult_base(pk[0], sk);
    assert_int_equal(vx_identity_generate(&svc), 0);
    assert_int_equal(vx_hsaddr_format(svc.pk, addr, sizeof(addr)), 0);
    struct vx_hs_owner *o = vx_hs_owner_new(loop, n[2].dht, &svc, "db", 600);
    assert_int_equal(vx_hs_owner_set_clients(o, (const uint8_t(*)[32])pk, 1), 0);
    intros(in, 3, 0x70);
    assert_int_equal(vx_hs_owner_set_intros(o, in, 3), 0);
    run_for(1.0);
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, VX_ERR_AUTH_MISSING);
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, wrong, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, VX_ERR_AUTH);
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, sk, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.d.auth_required, 1);
    assert_int_equal(r.d.n_intros, 3);
    /* cached, but not handed out to a caller without a key */
    memset(&r, 0, sizeof(r));
    assert_non_null(vx_hs_resolve(c, addr, NULL, 0, 3000, on_resolved, &r, &err));
    wait_res(&r, 5);
    assert_int_equal(r.err, VX_ERR_AUTH_MISSING);
    assert_int_equal(vx_hs_owner_set_clients(o, NULL, VX_HSDESC_MAX_CLIENTS + 1), VX_ERR_TOOBIG);
    vx_hs_owner_free(o);
    vx_hs_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_publish_resolve),
            cmocka_unit_test(test_errors),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
