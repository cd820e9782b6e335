/* test_discovery.c — the discovery module: key parsing, advertised
 * endpoints, and USER.SERVICE resolution against a second DHT node on
 * loopback (first-use pin, KEYCHANGED, registry cache, timeouts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/discovery.h"
#include "dht/dht.h"
#include "lib/addr.h"
#include "lib/err.h"
#include "lib/vxtime.h"

static void test_parse_key(void **state)
{
    uint8_t pk[VX_PK_LEN], back[VX_PK_LEN];
    char hexs[2 * VX_PK_LEN + 1];
    (void)state;
    for (int i = 0; i < VX_PK_LEN; i++) {
        pk[i] = (uint8_t)(i * 7 + 1);
        sprintf(hexs + 2 * i, "%02x", pk[i]);
    }
    assert_int_equal(vx_discovery_parse_key(hexs, back), 0);
    assert_memory_equal(pk, back, VX_PK_LEN);
    hexs[5] = 'g';
    assert_int_equal(vx_discovery_parse_key(hexs, back), VX_ERR_BADADDR);
    assert_int_equal(vx_discovery_parse_key("abc", back), VX_ERR_BADADDR);
    assert_int_equal(vx_discovery_parse_key("", back), VX_ERR_BADADDR);
}

static void test_local_endpoints_explicit(void **state)
{
    struct vx_addr l[4];
    struct vx_endpoint eps[8];
    size_t n;
    (void)state;
    assert_int_equal(vx_addr_parse("192.0.2.7:4242", 0, &l[0].ss, &l[0].len), 0);
    assert_int_equal(vx_addr_parse("[2001:db8::5]:4242", 0, &l[1].ss, &l[1].len), 0);
    assert_int_equal(vx_addr_parse("[2001:db8::5]:4242", 0, &l[2].ss, &l[2].len), 0);
    assert_int_equal(vx_addr_parse("[::ffff:198.51.100.1]:5000", 0, &l[3].ss, &l[3].len), 0);
    n = vx_discovery_local_endpoints(l, 4, VX_REC_TRANSPORT_TCP, eps, 8);
    assert_int_equal(n, 3);             /* duplicate dropped */
    assert_int_equal(eps[0].family, 6); /* IPv6 first */
    assert_int_equal(eps[0].port, 4242);
    assert_int_equal(eps[0].transports, VX_REC_TRANSPORT_TCP);
    assert_int_equal(eps[1].family, 4);
    assert_int_equal(eps[1].addr[0], 192);
    assert_int_equal(eps[2].family, 4);
    assert_int_equal(eps[2].addr[0], 198);
    assert_int_equal(eps[2].port, 5000);
    /* capacity is respected */
    n = vx_discovery_local_endpoints(l, 4, VX_REC_TRANSPORT_TCP, eps, 1);
    assert_int_equal(n, 1);
}

/* ---- resolution against a second node ---------------------------------- */

struct fixture {
    char dir[64];
    struct vx_daemon *d;
    struct vx_discovery *ds;
    struct ev_loop *loop;
    struct vx_identity bob;
    struct vx_dht *bob_dht;
    uint16_t port;
};

struct outcome {
    int called, err;
    struct vx_disco_result res;
};

static void done_cb(void *ctx, int err, const struct vx_disco_result *res)
{
    struct outcome *o = ctx;
    o->called++;
    o->err = err;
    if (res)
        o->res = *res;
    ev_break(ev_default_loop(0), EVBREAK_ALL);
}

static void wait_for(struct ev_loop *loop, struct outcome *o, double secs)
{
    uint64_t until = vx_time_mono_ms() + (uint64_t)(secs * 1000);
    while (!o->called && vx_time_mono_ms() < until)
        ev_run(loop, EVRUN_ONCE);
}

static void pump(struct ev_loop *loop, double secs)
{
    uint64_t until = vx_time_mono_ms() + (uint64_t)(secs * 1000);
    while (vx_time_mono_ms() < until)
        ev_run(loop, EVRUN_NOWAIT), usleep(2000);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vx_config *cfg = vx_config_new_default();
    char err[1024], path[128];
    struct sockaddr_storage ss;
    socklen_t sl;
    struct vx_record r;
    uint64_t now = vx_time_unix();
    struct sockaddr_in6 lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd;

    snprintf(f->dir, sizeof(f->dir), "/tmp/vx6-test-disco-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* a free UDP port on ::1 for the daemon's DHT */
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&lo, sizeof(lo)), 0);
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    f->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    close(fd);

    free(cfg->data_dir);
    cfg->data_dir = strdup(f->dir);
    snprintf(path, sizeof(path), "%s/control.sock", f->dir);
    free(cfg->control_socket);
    cfg->control_socket = strdup(path);
    free(cfg->log_level);
    cfg->log_level = strdup("warn");
    snprintf(path, sizeof(path), "[::1]:%u", f->port);
    assert_int_equal(vx_addr_parse(path, 0, &cfg->listen[0].ss, &cfg->listen[0].len), 0);
    cfg->n_listen = 1;
    assert_int_equal(vx_config_validate(cfg, err, sizeof(err)), 0);

    f->d = vx_daemon_new(cfg, NULL, NULL);
    f->ds = vx_discovery_new();
    assert_int_equal(vx_daemon_set_module(f->d, VX_SLOT_DHT, &vx_discovery_module, f->ds), 0);
    assert_int_equal(vx_daemon_start(f->d), 0);
    f->loop = vx_daemon_loop(f->d);
    assert_non_null(vx_discovery_dht(f->ds));
    assert_non_null(vx_discovery_registry(f->ds));

    /* bob: a bare DHT node on ::1 publishing bob.web */
    assert_int_equal(vx_identity_generate(&f->bob), 0);
    f->bob_dht = vx_dht_new(f->loop, &f->bob, NULL, NULL);
    lo.sin6_port = 0;
    assert_int_equal(vx_dht_listen(f->bob_dht, (struct sockaddr *)&lo, sizeof(lo)), 0);
    assert_int_equal(vx_dht_local_addr(f->bob_dht, &ss, &sl), 0);
    {
        struct vx_endpoint ep = {.family = 6,
                                 .transports = VX_REC_TRANSPORT_TCP,
                                 .port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)};
        ep.addr[15] = 1;
        assert_int_equal(vx_dht_set_endpoints(f->bob_dht, &ep, 1, 3600), 0);
    }
    assert_int_equal(vx_record_init_username(&r, "bob", 1, now, now + 3600), 0);
    assert_int_equal(vx_record_sign(&r, &f->bob), 0);
    assert_int_equal(vx_dht_publish(f->bob_dht, &r, NULL, NULL), 0);
    assert_int_equal(vx_record_init_service(&r, "bob", "web", 1, now, now + 3600), 0);
    r.u.service.n_ports = 1;
    r.u.service.ports[0] = 80;
    assert_int_equal(vx_record_sign(&r, &f->bob), 0);
    assert_int_equal(vx_dht_publish(f->bob_dht, &r, NULL, NULL), 0);
    /* bob joins through the daemon */
    lo.sin6_port = htons(f->port);
    memcpy(&ss, &lo, sizeof(lo));
    assert_int_equal(vx_dht_bootstrap(f->bob_dht, &ss, 1), 0);
    pump(f->loop, 0.5);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    vx_dht_free(f->bob_dht);
    vx_identity_wipe(&f->bob);
    vx_daemon_free(f->d);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static void test_resolve_pin_and_keychange(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0};
    struct vx_registry *reg = vx_discovery_registry(f->ds);
    const struct vx_registry_pin *pin;
    struct vx_disco_lookup *lk;
    uint8_t other[VX_PK_LEN];
    int err = 0;

    assert_null(vx_registry_pin_get(reg, "bob"));
    lk = vx_discovery_resolve(f->ds, "bob", "web", 0, done_cb, &o, &err);
    assert_non_null(lk);
    assert_int_equal(o.called, 0); /* never from inside the call */
    wait_for(f->loop, &o, 10);
    assert_int_equal(o.called, 1);
    assert_int_equal(o.err, 0);
    assert_memory_equal(o.res.node_id, f->bob.node_id, VX_NODE_ID_LEN);
    assert_memory_equal(o.res.user_key, f->bob.pk, VX_PK_LEN);
    assert_int_equal(o.res.pin, VX_PIN_NEW);
    assert_int_equal(o.res.naddrs, 1);
    assert_int_equal(o.res.service.u.service.n_ports, 1);
    assert_int_equal(o.res.service.u.service.ports[0], 80);
    assert_true(o.res.how[0] != '\0');
    pin = vx_registry_pin_get(reg, "bob");
    assert_non_null(pin);
    assert_memory_equal(pin->pk, f->bob.pk, VX_PK_LEN);

    /* again: the pin matches now, and the records come from the caches */
    memset(&o, 0, sizeof(o));
    assert_non_null(vx_discovery_resolve(f->ds, "bob", "web", 0, done_cb, &o, &err));
    wait_for(f->loop, &o, 10);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.res.pin, VX_PIN_MATCH);
    assert_string_equal(o.res.how, "registry cache");

    /* pinned to another key: refused, and the offered key is reported */
    memset(other, 0x42, sizeof(other));
    assert_int_equal(vx_registry_trust(reg, "bob", other, vx_time_unix()), 0);
    memset(&o, 0, sizeof(o));
    assert_non_null(vx_discovery_resolve(f->ds, "bob", "web", 0, done_cb, &o, &err));
    wait_for(f->loop, &o, 10);
    assert_int_equal(o.called, 1);
    assert_int_equal(o.err, VX_ERR_KEYCHANGED);
    assert_memory_equal(o.res.user_key, f->bob.pk, VX_PK_LEN);

    /* trusting the real key again makes it resolve */
    assert_int_equal(vx_registry_trust(reg, "bob", f->bob.pk, vx_time_unix()), 0);
    memset(&o, 0, sizeof(o));
    assert_non_null(vx_discovery_resolve(f->ds, "bob", "web", 0, done_cb, &o, &err));
    wait_for(f->loop, &o, 10);
    assert_int_equal(o.err, 0);
}

static void test_resolve_missing_and_cancel(void **state)
{
    struct fixture *f = *state;
    struct outcome o = {0};
    struct vx_disco_lookup *lk;
    int err = 0;

    assert_null(vx_discovery_resolve(f->ds, "Bad_Name", "web", 0, done_cb, &o, &err));
    assert_int_equal(err, VX_ERR_BADADDR);

    lk = vx_discovery_resolve(f->ds, "carol", "web", 0, done_cb, &o, &err);
    assert_non_null(lk);
    wait_for(f->loop, &o, 12);
    assert_int_equal(o.called, 1);
    assert_int_equal(o.err, VX_ERR_NOTFOUND);

    /* bob exists but has no service "ssh" */
    memset(&o, 0, sizeof(o));
    assert_non_null(vx_discovery_resolve(f->ds, "bob", "ssh", 0, done_cb, &o, &err));
    wait_for(f->loop, &o, 12);
    assert_int_equal(o.err, VX_ERR_NOTFOUND);

    /* a cancelled lookup never calls back */
    memset(&o, 0, sizeof(o));
    lk = vx_discovery_resolve(f->ds, "bob", "web", 0, done_cb, &o, &err);
    assert_non_null(lk);
    vx_discovery_resolve_cancel(lk);
    pump(f->loop, 0.5);
    assert_int_equal(o.called, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_key),
            cmocka_unit_test(test_local_endpoints_explicit),
            cmocka_unit_test_setup_teardown(test_resolve_pin_and_keychange, setup, teardown),
            cmocka_unit_test_setup_teardown(test_resolve_missing_and_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
