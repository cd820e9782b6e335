/* test_registry.c — the persisted registry: round trip, verification on
 * load, corrupt and future files, pins, eviction, crash safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "registry/registry.h"
#include "wire/record.h"
#include "testutil.h"

#define T0 1700000000ull

static char dir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    if (tu_tmpdir_make(dir, sizeof(dir), "registry") < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/registry.bin", dir);
    vx_log_set_level(VX_LOG_NONE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tu_tmpdir_remove(dir);
}

static void ident(struct vx_identity *id, unsigned n)
{
    uint8_t seed[32] = {0};
    memcpy(seed, &n, sizeof(n));
    seed[31] = 0x5a;
    assert_int_equal(vx_identity_from_seed(id, seed), 0);
}

static void node_rec(struct vx_record *r, unsigned n, uint64_t seq, uint64_t expires)
{
    struct vx_identity id;
    struct vx_endpoint ep = {.family = 4, .transports = 3, .port = 4242};
    ident(&id, n);
    ep.addr[0] = 10;
    ep.addr[2] = (uint8_t)(n >> 8);
    ep.addr[3] = (uint8_t)n;
    vx_record_init_node(r, seq, T0, expires);
    assert_int_equal(vx_record_add_endpoint(r, &ep), 0);
    assert_int_equal(vx_record_sign(r, &id), 0);
}

static void svc_rec(struct vx_record *r, unsigned n, const char *user, const char *svc,
                    uint64_t seq, uint64_t expires)
{
    struct vx_identity id;
    ident(&id, n);
    assert_int_equal(vx_record_init_service(r, user, svc, seq, T0, expires), 0);
    r->u.service.n_ports = 1;
    r->u.service.ports[0] = 80;
    assert_int_equal(vx_record_sign(r, &id), 0);
}

static void fill(struct vx_registry *reg)
{
    struct vx_record r;
    struct vx_identity id;
    for (unsigned i = 0; i < 5; i++) {
        node_rec(&r, i, 1, T0 + 3600);
        assert_int_equal(vx_registry_peer_put(reg, &r, T0), 0);
    }
    node_rec(&r, 0, 1, T0 + 3600);
    assert_int_equal(vx_registry_peer_put(reg, &r, T0), VX_ERR_STALE);
    assert_int_equal(vx_registry_peer_result(reg, r.u.node.node_id, 1, 40, T0 + 5), 0);
    assert_int_equal(vx_registry_peer_result(reg, r.u.node.node_id, 0, 0, T0 + 6), 0);
    svc_rec(&r, 1, "alice", "web", 1, T0 + 3600);
    assert_int_equal(vx_registry_service_put(reg, &r, T0), 0);
    svc_rec(&r, 2, "bob", "ssh", 1, T0 + 100); /* expires early */
    assert_int_equal(vx_registry_service_put(reg, &r, T0), 0);
    ident(&id, 1);
    assert_int_equal(vx_registry_pin_check(reg, "alice", id.pk, T0), 0);
    assert_int_equal(vx_registry_alias_set(reg, "home", "alice.web"), 0);
}

static void test_roundtrip(void **state)
{
    struct vx_registry *a = vx_registry_new(path), *b = vx_registry_new(path);
    struct vx_registry_stats st;
    struct vx_identity id;
    uint8_t key[32];
    (void)state;
    assert_int_equal(vx_registry_load(a, T0), 0); /* no file yet: empty */
    fill(a);
    assert_true(vx_registry_dirty(a));
    assert_int_equal(vx_registry_save(a), 0);
    assert_false(vx_registry_dirty(a));

    assert_int_equal(vx_registry_load(b, T0 + 10), 0);
    vx_registry_stats(b, &st);
    assert_int_equal(st.peers, 5);
    assert_int_equal(st.services, 2);
    assert_int_equal(st.pins, 1);
    assert_int_equal(st.aliases, 1);
    assert_int_equal(st.dropped_on_load, 0);
    ident(&id, 0);
    const struct vx_registry_peer *p = vx_registry_peer_get(b, id.node_id);
    assert_non_null(p);
    assert_int_equal(p->successes, 1);
    assert_int_equal(p->failures, 1);
    assert_int_equal(p->rtt_ms, 40);
    assert_int_equal(p->last_seen, T0 + 5);
    assert_string_equal(vx_registry_alias_get(b, "home"), "alice.web");
    assert_int_equal(vx_service_key("alice", "web", key), 0);
    assert_non_null(vx_registry_service_get(b, key, T0 + 10));
    /* Best peers: the one that answered comes first. */
    const struct vx_registry_peer *best[3];
    assert_int_equal(vx_registry_best_peers(b, T0 + 10, best, 3), 3);
    assert_memory_equal(best[0]->rec.u.node.node_id, id.node_id, 32);

    /* Loading later drops what expired meanwhile (bob.ssh). */
    assert_int_equal(vx_registry_load(b, T0 + 200), 0);
    vx_registry_stats(b, &st);
    assert_int_equal(st.services, 1);
    assert_int_equal(st.dropped_on_load, 1);
    vx_registry_free(a);
    vx_registry_free(b);
}

static void rewrite_sum(uint8_t *data, size_t len)
{
    crypto_generichash(data + len - 32, 32, data, len - 32, NULL, 0);
}

static void test_drops_forged(void **state)
{
    struct vx_registry *a = vx_registry_new(path);
    struct vx_registry_stats st;
    uint8_t *data;
    size_t len;
    (void)state;
    fill(a);
    assert_int_equal(vx_registry_save(a), 0);
    assert_int_equal(vx_file_read(path, 1 << 20, &data, &len), 0);
    /* Tamper with the first peer's record (a byte of its node ID), then fix
     * the checksum as an attacker with write access would: the entry fails
     * verification and is dropped, the rest loads. */
    size_t off = 8 + 16 + 8 + 12 + 2 + 1 + 1 + 24 + 32 + 3;
    data[off] ^= 0x40;
    rewrite_sum(data, len);
    assert_int_equal(vx_file_write_atomic(path, data, len, 0600), 0);
    free(data);
    assert_int_equal(vx_registry_load(a, T0 + 10), 0);
    vx_registry_stats(a, &st);
    assert_int_equal(st.peers, 4);
    assert_int_equal(st.dropped_on_load, 1);
    vx_registry_free(a);
}

static void test_corrupt(void **state)
{
    struct vx_registry *a = vx_registry_new(path);
    struct vx_registry_stats st;
    uint8_t *data, *after;
    size_t len, alen;
    char aside[400];
    (void)state;
    fill(a);
    assert_int_equal(vx_registry_save(a), 0);
    assert_int_equal(vx_file_read(path, 1 << 20, &data, &len), 0);
    data[len / 2] ^= 1;
    assert_int_equal(vx_file_write_atomic(path, data, len, 0600), 0);

    assert_int_equal(vx_registry_load(a, T0 + 7), VX_ERR_CORRUPT);
    vx_registry_stats(a, &st);
    assert_int_equal(st.peers + st.services + st.pins + st.aliases, 0);
    /* Moved aside byte for byte. */
    snprintf(aside, sizeof(aside), "%s/registry.corrupt-%llu", dir, T0 + 7);
    assert_int_equal(vx_file_read(aside, 1 << 20, &after, &alen), 0);
    assert_int_equal(alen, len);
    assert_memory_equal(after, data, len);
    assert_int_equal(access(path, F_OK), -1);
    free(after);
    /* Truncated file: corrupt too. */
    assert_int_equal(vx_file_write_atomic(path, data, len - 40, 0600), 0);
    assert_int_equal(vx_registry_load(a, T0 + 8), VX_ERR_CORRUPT);
    /* Garbage. */
    assert_int_equal(vx_file_write_atomic(path, "hello", 5, 0600), 0);
    assert_int_equal(vx_registry_load(a, T0 + 9), VX_ERR_CORRUPT);
    free(data);
    /* And the registry is usable afterwards. */
    fill(a);
    assert_int_equal(vx_registry_save(a), 0);
    assert_int_equal(vx_registry_load(a, T0 + 10), 0);

    /* A newer format is left alone and never overwritten. */
    static const char future[] = "vx6reg02 some future layout";
    assert_int_equal(vx_file_write_atomic(path, future, sizeof(future), 0600), 0);
    assert_int_equal(vx_registry_load(a, T0 + 11), VX_ERR_VERSION);
    assert_int_equal(vx_registry_save(a), VX_ERR_PERM);
    assert_int_equal(vx_file_read(path, 1 << 20, &data, &len), 0);
    assert_int_equal(len, sizeof(future));
    free(data);
    vx_registry_free(a);
}

static void test_pins(void **state)
{
    struct vx_registry *reg = vx_registry_new(NULL);
    struct vx_identity a, b;
    (void)state;
    ident(&a, 1);
    ident(&b, 2);
    assert_int_equal(vx_registry_pin_check(reg, "alice", a.pk, T0), 0);
    assert_int_equal(vx_registry_pin_check(reg, "alice", a.pk, T0 + 1), 0);
    assert_int_equal(vx_registry_pin_check(reg, "alice", b.pk, T0 + 2), VX_ERR_KEYCHANGED);
    assert_memory_equal(vx_registry_pin_get(reg, "alice")->pk, a.pk, 32);
    assert_int_equal(vx_registry_pin_get(reg, "alice")->first_seen, T0);
    assert_int_equal(vx_registry_trust(reg, "alice", b.pk, T0 + 3), 0);
    assert_int_equal(vx_registry_pin_check(reg, "alice", b.pk, T0 + 4), 0);
    assert_int_equal(vx_registry_pin_check(reg, "alice", a.pk, T0 + 4), VX_ERR_KEYCHANGED);
    assert_int_equal(vx_registry_pin_check(reg, "Bad.Name", a.pk, T0), VX_ERR_BADADDR);
    assert_int_equal(vx_registry_alias_set(reg, "x", "has space"), VX_ERR_BADADDR);
    assert_int_equal(vx_registry_pin_remove(reg, "alice"), 0);
    assert_null(vx_registry_pin_get(reg, "alice"));
    /* Memory-only registry: save/load are no-ops. */
    assert_int_equal(vx_registry_save(reg), 0);
    vx_registry_free(reg);
}

static void test_eviction(void **state)
{
    struct vx_registry *reg = vx_registry_new(NULL);
    struct vx_registry_stats st;
    struct vx_record r, first;
    (void)state;
    /* Fill the peer table; peer 0 is the only expired one, peer 1 the
     * oldest seen. */
    for (unsigned i = 0; i < VX_REGISTRY_MAX_PEERS; i++) {
        node_rec(&r, i, 1, i == 0 ? T0 + 50 : T0 + 3600);
        if (i == 0)
            first = r;
        assert_int_equal(vx_registry_peer_put(reg, &r, T0), 0);
        assert_int_equal(vx_registry_peer_result(reg, r.u.node.node_id, 1, 0, T0 + 10 + i), 0);
    }
    node_rec(&r, 100000, 1, T0 + 3600);
    assert_int_equal(vx_registry_peer_put(reg, &r, T0 + 100), 0);
    assert_null(vx_registry_peer_get(reg, first.u.node.node_id));
    assert_non_null(vx_registry_peer_get(reg, r.u.node.node_id));
    /* A peer that never answered goes first; once it has, the next victim
     * is the oldest last-seen (peer 1). */
    assert_int_equal(vx_registry_peer_result(reg, r.u.node.node_id, 1, 0, T0 + 100000), 0);
    node_rec(&first, 1, 1, T0 + 3600);
    node_rec(&r, 100001, 1, T0 + 3600);
    assert_int_equal(vx_registry_peer_put(reg, &r, T0 + 100), 0);
    assert_null(vx_registry_peer_get(reg, first.u.node.node_id));
    vx_registry_stats(reg, &st);
    assert_int_equal(st.peers, VX_REGISTRY_MAX_PEERS);
    assert_int_equal(st.evicted, 2);
    vx_registry_free(reg);
}

/* ---- crash safety ----------------------------------------------------- */

#define CRASH_PEERS 300

static struct vx_record crash_peers[CRASH_PEERS];

/* Version v: alias "ver" = v, aliases a0..a{v%40} = v, all peers with
 * successes = v.  Any mix of two versions is detectable. */
static void crash_version(unsigned v)
{
    struct vx_registry *reg = vx_registry_new(path);
    char val[32], name[16];
    snprintf(val, sizeof(val), "%u", v);
    if (vx_registry_alias_set(reg, "ver", val) < 0)
        _exit(4);
    for (unsigned j = 0; j <= v % 40; j++) {
        snprintf(name, sizeof(name), "a%u", j);
        if (vx_registry_alias_set(reg, name, val) < 0)
            _exit(4);
    }
    for (unsigned j = 0; j < CRASH_PEERS; j++) {
        vx_registry_peer_put(reg, &crash_peers[j], T0);
        vx_registry_peer_result(reg, crash_peers[j].u.node.node_id, 1, 0, T0 + v);
    }
    if (vx_registry_save(reg) < 0)
        _exit(3);
    vx_registry_free(reg);
}

static int check_alias(const char *name, const char *target, void *arg)
{
    const char *ver = arg;
    assert_string_equal(target, ver);
    (void)name;
    return 0;
}

static unsigned check_consistent(struct vx_registry *reg)
{
    struct vx_registry_stats st;
    const char *ver = vx_registry_alias_get(reg, "ver");
    unsigned v;
    vx_registry_stats(reg, &st);
    if (!ver) {
        assert_int_equal(st.aliases + st.peers, 0);
        return 0;
    }
    v = (unsigned)strtoul(ver, NULL, 10);
    assert_int_equal(st.aliases, 1 + v % 40 + 1);
    vx_registry_foreach_alias(reg, check_alias, (void *)ver);
    assert_int_equal(st.peers, CRASH_PEERS);
    for (unsigned j = 0; j < CRASH_PEERS; j++)
        assert_int_equal(vx_registry_peer_get(reg, crash_peers[j].u.node.node_id)->last_seen,
                         T0 + v);
    return v;
}

static void test_crash_safety(void **state)
{
    struct vx_registry *reg = vx_registry_new(path);
    unsigned last = 0, kills = 0;
    (void)state;
    for (unsigned j = 0; j < CRASH_PEERS; j++)
        node_rec(&crash_peers[j], 5000 + j, 1, T0 + 86400);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    for (int iter = 0; iter < 120; iter++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* Child: save successive versions as fast as it can. */
            for (unsigned v = last + 1;; v++)
                crash_version(v);
        }
        usleep((useconds_t)(rand() % 20000));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        kills++;
        /* The file loads, and is one complete version, not older than the
         * last one seen. */
        assert_int_equal(vx_registry_load(reg, T0), 0);
        unsigned v = check_consistent(reg);
        assert_true(v >= last);
        last = v;
    }
    assert_true(last > 0);
    print_message("crash safety: %u kills, reached version %u\n", kills, last);
    vx_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_drops_forged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
            cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
            cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
            cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
