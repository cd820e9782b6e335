/* test_config.c — unit tests for src/daemon/config.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "lib/addr.h"
#include "lib/err.h"

#define DATA TESTS_SRCDIR "/unit/config/"

static char err[8192];

static struct vx_config *load_ok(const char *name)
{
    struct vx_config *cfg = NULL;
    char path[1024];
    snprintf(path, sizeof(path), DATA "%s", name);
    int rc = vx_config_load(path, &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: rc %d: %s", name, rc, err);
    assert_non_null(cfg);
    return cfg;
}

static struct vx_config *parse_ok(const char *yaml)
{
    struct vx_config *cfg = NULL;
    int rc = vx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("rc %d: %s\n--- input:\n%s", rc, err, yaml);
    assert_non_null(cfg);
    return cfg;
}

/* Parsing must fail and the FIRST diagnostic line must start with
 * "t.yaml:" want_prefix and contain want_sub. */
static void parse_bad(const char *yaml, const char *want_prefix, const char *want_sub)
{
    struct vx_config *cfg = (struct vx_config *)1;
    char first[2048], prefix[512];
    int rc = vx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err));
    if (rc == 0)
        fail_msg("should not parse:\n%s", yaml);
    assert_int_equal(rc, VX_ERR_CONFIG);
    assert_null(cfg);
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(err, "\n"), err);
    snprintf(prefix, sizeof(prefix), "t.yaml:%s", want_prefix);
    if (strncmp(first, prefix, strlen(prefix)) != 0)
        fail_msg("first error '%s' does not start with '%s'", first, prefix);
    if (want_sub && !strstr(first, want_sub))
        fail_msg("first error '%s' lacks '%s'", first, want_sub);
}

static void addr_is(const struct vx_addr *a, const char *want)
{
    char buf[VX_ADDR_STRLEN];
    assert_true(vx_addr_format((const struct sockaddr *)&a->ss, a->len, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, want);
}

static void check_defaults(const struct vx_config *cfg)
{
    assert_non_null(cfg->data_dir);
    assert_true(cfg->data_dir[0] == '/');
    assert_non_null(cfg->control_socket);
    if (geteuid() == 0) {
        assert_string_equal(cfg->data_dir, "/var/lib/vx6");
        assert_string_equal(cfg->control_socket, "/run/vx6/control.sock");
    }
    assert_null(cfg->user);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->n_listen, 1);
    addr_is(&cfg->listen[0], "[::]:4242");
    assert_int_equal(cfg->transport, VX_CFG_TRANSPORT_AUTO);
    assert_true(cfg->socks_enabled);
    addr_is(&cfg->socks, "127.0.0.1:1080");
    assert_null(cfg->socks_username);
    assert_int_equal(cfg->clearnet, VX_CFG_CLEARNET_DENY);
    assert_int_equal(cfg->n_bootstrap, 0);
    assert_true(cfg->relay);
    assert_int_equal(cfg->relay_hops, 3);
    assert_false(cfg->metrics_enabled);
    assert_int_equal(cfg->n_services, 0);
    assert_int_equal(cfg->n_forwards, 0);
    assert_int_equal(cfg->n_aliases, 0);
    assert_null(cfg->xdp_interface);
    assert_int_equal(cfg->xdp_udp_rate, 2000);
    assert_int_equal(cfg->xdp_udp_burst, 4000);
    assert_int_equal(cfg->limits.max_connections, 4096);
    assert_int_equal(cfg->limits.max_connections_per_client, 256);
    assert_int_equal(cfg->limits.handshake_timeout_ms, 10000);
    assert_int_equal(cfg->limits.idle_timeout_ms, 300000);
    assert_int_equal(cfg->limits.max_streams_per_peer, 1024);
    assert_int_equal(cfg->limits.max_sessions_per_peer, 16);
    assert_int_equal(cfg->limits.dht_rate, 50);
}

static void test_defaults(void **state)
{
    (void)state;
    struct vx_config *cfg = vx_config_new_default();
    check_defaults(cfg);
    assert_int_equal(vx_config_validate(cfg, err, sizeof(err)), 0);
    vx_config_free(cfg);
    vx_config_free(NULL);

    static const char *const empties[] = {"", "# only a comment\n", "---\n", "~\n", "---\n...\n"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        cfg = parse_ok(empties[i]);
        check_defaults(cfg);
        vx_config_free(cfg);
    }
    cfg = load_ok("empty.yaml");
    check_defaults(cfg);
    vx_config_free(cfg);
}

static void test_default_paths_user(void **state)
{
    (void)state;
    struct vx_config *cfg;
    if (geteuid() == 0)
        skip(); /* root always gets /var/lib/vx6 and /run/vx6 */
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("XDG_RUNTIME_DIR", "/xdg/run", 1);
    cfg = parse_ok("");
    assert_string_equal(cfg->data_dir, "/xdg/data/vx6");
    assert_string_equal(cfg->control_socket, "/xdg/run/vx6.sock");
    vx_config_free(cfg);
    unsetenv("XDG_DATA_HOME");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", "/home/t", 1);
    cfg = parse_ok("data_dir: /d\n");
    assert_string_equal(cfg->data_dir, "/d");
    assert_string_equal(cfg->control_socket, "/d/control.sock");
    vx_config_free(cfg);
    cfg = parse_ok("");
    assert_string_equal(cfg->data_dir, "/home/t/.local/share/vx6");
    vx_config_free(cfg);
}

static void test_minimal(void **state)
{
    (void)state;
    struct vx_config *cfg = load_ok("minimal.yaml");
    assert_string_equal(cfg->user, "alice");
    assert_int_equal(cfg->n_services, 1);
    assert_string_equal(cfg->services[0].name, "web");
    assert_true(cfg->services[0].has_target);
    addr_is(&cfg->services[0].target, "127.0.0.1:8080");
    assert_int_equal(cfg->services[0].n_ports, 0);
    assert_false(cfg->services[0].hidden);
    assert_int_equal(cfg->services[0].route, VX_CFG_ROUTE_AUTO);
    assert_int_equal(cfg->services[0].profile, VX_CFG_PROFILE_FAST);
    assert_int_equal(cfg->services[0].pos.line, 4);
    assert_ptr_equal(vx_config_find_service(cfg, "web"), &cfg->services[0]);
    assert_null(vx_config_find_service(cfg, "ssh"));
    /* untouched keys keep their defaults */
    assert_true(cfg->socks_enabled);
    assert_int_equal(cfg->relay_hops, 3);
    vx_config_free(cfg);
}

static void test_full(void **state)
{
    (void)state;
    struct vx_config *cfg = load_ok("full.yaml");
    const struct vx_cfg_service *s;

    assert_string_equal(cfg->data_dir, "/srv/vx6");
    assert_string_equal(cfg->user, "team-1");
    assert_string_equal(cfg->log_level, "notice,dht=debug,session=warn");
    assert_string_equal(cfg->control_socket, "/run/vx6-test/control.sock");
    assert_int_equal(cfg->n_listen, 2);
    addr_is(&cfg->listen[0], "[::]:4343");
    addr_is(&cfg->listen[1], "192.0.2.10:4344");
    assert_int_equal(cfg->transport, VX_CFG_TRANSPORT_QUIC);
    assert_true(cfg->socks_enabled);
    addr_is(&cfg->socks, "[::1]:1081");
    assert_string_equal(cfg->socks_username, "bob");
    assert_string_equal(cfg->socks_password, "s3cret pass");
    assert_int_equal(cfg->clearnet, VX_CFG_CLEARNET_ALLOW);
    assert_int_equal(cfg->n_bootstrap, 3);
    assert_false(cfg->bootstrap[0].has_id);
    addr_is(&cfg->bootstrap[0].addr, "[2001:db8::1]:4242");
    assert_true(cfg->bootstrap[1].has_id);
    assert_string_equal(cfg->bootstrap[1].id.s,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    addr_is(&cfg->bootstrap[1].addr, "[2001:db8::2]:4243");
    static const uint8_t zero[VX_NODE_ID_LEN];
    assert_memory_equal(cfg->bootstrap[1].id.bin, zero, VX_NODE_ID_LEN);
    addr_is(&cfg->bootstrap[2].addr, "198.51.100.7:4242"); /* default port */
    assert_false(cfg->relay);
    assert_int_equal(cfg->relay_hops, 5);
    assert_true(cfg->metrics_enabled);
    addr_is(&cfg->metrics, "127.0.0.1:9101");

    assert_int_equal(cfg->n_services, 3);
    s = &cfg->services[0];
    assert_string_equal(s->name, "web");
    addr_is(&s->target, "127.0.0.1:8080");
    assert_int_equal(s->n_ports, 2);
    assert_int_equal(s->ports[0].vport, 80);
    addr_is(&s->ports[0].target, "127.0.0.1:8080");
    assert_int_equal(s->ports[1].vport, 443);
    addr_is(&s->ports[1].target, "127.0.0.1:8443");
    assert_true(s->hidden);
    assert_int_equal(s->n_allow, 2);
    assert_string_equal(s->allow[1].s, "ccccccccccccccccccccccccccccccccccccccccccccccccccca");
    assert_int_equal(s->allow[1].bin[0], 0x10); /* 'c' = 2: 00010 00010 ... */
    assert_int_equal(s->allow[1].bin[1], 0x84);
    assert_int_equal(s->n_clients, 2);
    assert_string_equal(s->clients[0].s,
                        "436e8da26fb36b8357deb1604ab5e4fc7289eb8b5c01fd74f7039a1441e024c3");
    {
        /* the X25519 key is the Ed25519 key converted */
        uint8_t pk[VX_PK_LEN], x[VX_X25519_LEN];
        for (size_t i = 0; i < VX_PK_LEN; i++)
            sscanf(s->clients[1].s + 2 * i, "%2hhx", &pk[i]);
        assert_int_equal(vx_pk_to_x25519(pk, x), 0);
        assert_memory_equal(s->clients[1].x25519, x, VX_X25519_LEN);
    }
    assert_int_equal(s->route, VX_CFG_ROUTE_RELAY);
    assert_int_equal(s->profile, VX_CFG_PROFILE_BALANCED);
    assert_int_equal(s->transport, VX_CFG_TRANSPORT_TCP);
    s = &cfg->services[1];
    assert_false(s->has_target);
    assert_int_equal(s->n_ports, 3);
    assert_int_equal(s->ports[0].vport, 22);
    addr_is(&s->ports[0].target, "127.0.0.1:22");
    assert_int_equal(s->ports[1].vport, 2222);
    addr_is(&s->ports[1].target, "[::1]:2222");
    assert_int_equal(s->ports[2].vport, 8022);
    addr_is(&s->ports[2].target, "127.0.0.1:8022");
    s = &cfg->services[2];
    assert_true(s->allow_remote_target);
    addr_is(&s->target, "192.168.1.20:631");

    assert_int_equal(cfg->n_forwards, 2);
    addr_is(&cfg->forwards[0].listen, "127.0.0.1:5432");
    assert_string_equal(cfg->forwards[0].host, "alice.db.vx6");
    assert_int_equal(cfg->forwards[0].port, 5432);
    assert_int_equal(cfg->forwards[0].route, VX_CFG_ROUTE_DIRECT);
    assert_int_equal(cfg->forwards[0].transport, VX_CFG_TRANSPORT_QUIC);
    addr_is(&cfg->forwards[1].listen, "127.0.0.1:15433");
    assert_string_equal(cfg->forwards[1].host, "2001:db8::5");

    assert_int_equal(cfg->n_aliases, 3);
    assert_string_equal(cfg->aliases[0].name, "db");
    assert_string_equal(cfg->aliases[0].target, "alice.db");
    assert_string_equal(cfg->aliases[2].target, "team.wiki");

    assert_int_equal(cfg->n_hidden_auth, 2);
    assert_string_equal(cfg->hidden_auth[0].address,
                        "dqhwscppbdomg6hqzmitdryscur24bl5sppfkwkagjffrmuiclqpnkab");
    assert_string_equal(cfg->hidden_auth[0].key_file, "/etc/vx6/blog-client.key");
    assert_string_equal(cfg->hidden_auth[1].address,
                        "masvzelvjomptwdmxnhtvtbkmaclbt6ukcjzrjbalgmrbpguqs3nxwib");
    assert_null(cfg->hidden_auth[1].key_file); /* identity */
    assert_ptr_equal(vx_config_find_hidden_auth(
                             cfg, "MASVZELVJOMPTWDMXNHTVTBKMACLBT6UKCJZRJBALGMRBPGUQS3NXWIB.vx6"),
                     &cfg->hidden_auth[1]);
    assert_null(vx_config_find_hidden_auth(cfg, "alice.web"));

    assert_string_equal(cfg->xdp_interface, "eth0");
    assert_int_equal(cfg->xdp_mode, VX_CFG_XDP_GENERIC);
    assert_int_equal(cfg->xdp_udp_rate, 500);
    assert_int_equal(cfg->xdp_udp_burst, 800);
    assert_int_equal(cfg->limits.max_connections, 1000);
    assert_int_equal(cfg->limits.max_connections_per_client, 10);
    assert_int_equal(cfg->limits.handshake_timeout_ms, 1500);
    assert_int_equal(cfg->limits.idle_timeout_ms, 300000);
    assert_int_equal(cfg->limits.max_streams_per_peer, 64);
    assert_int_equal(cfg->limits.max_sessions_per_peer, 4);
    assert_int_equal(cfg->limits.dht_rate, 20);
    vx_config_free(cfg);
}

static char *dump_str(const struct vx_config *cfg, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(vx_config_dump_ex(cfg, f, flags), 0);
    fclose(f);
    return buf;
}

/* dump -> parse -> dump gives the same text: the dump is the whole config. */
static void test_dump_roundtrip(void **state)
{
    (void)state;
    static const char *const files[] = {"full.yaml", "minimal.yaml", "empty.yaml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct vx_config *a = load_ok(files[i]), *b = NULL;
        char *t1 = dump_str(a, VX_CONFIG_DUMP_SECRETS), *t2;
        int rc = vx_config_parse(t1, strlen(t1), a->filename, &b, err, sizeof(err));
        if (rc != 0)
            fail_msg("dump of %s does not parse: %s\n%s", files[i], err, t1);
        t2 = dump_str(b, VX_CONFIG_DUMP_SECRETS);
        assert_string_equal(t1, t2);
        free(t1);
        free(t2);
        /* and the default dump hides the password */
        t1 = dump_str(a, 0);
        assert_null(strstr(t1, "s3cret"));
        if (a->socks_password)
            assert_non_null(strstr(t1, "password: \"********\""));
        free(t1);
        vx_config_free(a);
        vx_config_free(b);
    }
}

/* Strings with characters YAML does not take raw (C1 controls, NEL, which
 * YAML folds into a space, U+FFFE/U+FFFF) dump escaped and parse back
 * (found by fuzz_config: data_dir "/\N" dumped as a raw NEL read back as
 * "/ "). */
static void test_dump_escapes(void **state)
{
    (void)state;
    struct vx_config *a = parse_ok("data_dir: \"/v\\N\\x80\\x9f\\uFFFE\\uFFFF\\L\\u00e9\\x85z\"\n"
                                   "control_socket: \"/run/\\N.sock\"\n"),
                     *b = NULL;
    char *t1 = dump_str(a, VX_CONFIG_DUMP_SECRETS), *t2;
    if (vx_config_parse(t1, strlen(t1), a->filename, &b, err, sizeof(err)) != 0)
        fail_msg("dump does not parse: %s\n%s", err, t1);
    assert_string_equal(b->data_dir, a->data_dir);
    assert_string_equal(b->control_socket, "/run/\xc2\x85.sock");
    assert_string_equal(a->data_dir, "/v\xc2\x85\xc2\x80\xc2\x9f\xef\xbf\xbe\xef\xbf\xbf"
                                     "\xe2\x80\xa8\xc3\xa9\xc2\x85z");
    t2 = dump_str(b, VX_CONFIG_DUMP_SECRETS);
    assert_string_equal(t1, t2);
    assert_non_null(
            strstr(t1, "data_dir: \"/v\\x85\\x80\\x9f\\uFFFE\\uFFFF\xe2\x80\xa8\xc3\xa9\\x85z\""));
    free(t1);
    free(t2);
    vx_config_free(a);
    vx_config_free(b);
}

static void test_example_config(void **state)
{
    (void)state;
    struct vx_config *cfg = NULL;
    int rc = vx_config_load(TESTS_SRCDIR "/../conf/vx6.yaml", &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("conf/vx6.yaml: %s", err);
    /* the example publishes something, or it would teach nothing */
    assert_true(cfg->n_services > 0);
    vx_config_free(cfg);

    /* the example and the man page mention every key */
    static const char *const keys[] = {"data_dir",
                                       "user",
                                       "log_level",
                                       "control_socket",
                                       "listen",
                                       "transport",
                                       "socks",
                                       "socks_auth",
                                       "username",
                                       "password",
                                       "clearnet",
                                       "bootstrap",
                                       "relay",
                                       "relay_hops",
                                       "metrics",
                                       "services",
                                       "name",
                                       "target",
                                       "ports",
                                       "hidden",
                                       "allow",
                                       "allow_remote_target",
                                       "route",
                                       "profile",
                                       "forwards",
                                       "to",
                                       "aliases",
                                       "xdp",
                                       "interface",
                                       "mode",
                                       "limits",
                                       "max_connections",
                                       "max_connections_per_client",
                                       "handshake_timeout",
                                       "idle_timeout",
                                       "max_streams_per_peer",
                                       "max_sessions_per_peer",
                                       "dht_rate"};
    static const char *const docs[] = {TESTS_SRCDIR "/../conf/vx6.yaml",
                                       TESTS_SRCDIR "/../man/vx6.yaml.5"};
    for (size_t d = 0; d < 2; d++) {
        static char text[1 << 16];
        FILE *f = fopen(docs[d], "r");
        assert_non_null(f);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            char want[64];
            snprintf(want, sizeof(want), "%s:", keys[i]);
            if (!strstr(text, want))
                fail_msg("%s does not document '%s'", docs[d], keys[i]);
        }
    }
}

struct bad_file {
    const char *file, *where, *sub;
};

static void test_bad_files(void **state)
{
    (void)state;
    static const struct bad_file cases[] = {
            {"bad_unknown_key.yaml", ":2:1: unknown key 'lisen'", "(did you mean 'listen'?)"},
            {"bad_wrong_type.yaml", ":3:3: socks: ", "expected an address or off, got a list"},
            {"bad_address.yaml", ":4:13: services[0].target: ",
             "\"127.0.0.1:99999\" is not a valid address (port out of range)"},
            {"bad_port.yaml", ":4:7: services[0].ports: ", "virtual port \"70000\""},
            {"bad_name.yaml", ":2:11: services[0].name: ", "must be lowercase"},
            {"bad_dup_service.yaml",
             ":4:5: services[1]: ", "duplicate service name 'web' (first at line 2)"},
            {"bad_dup_key.yaml", ":3:1: relay: ", "duplicate key (first given at line 1)"},
            {"bad_syntax.yaml", ":4:1: ", "YAML syntax error"},
            {"bad_alias.yaml", ":4:12: ", "anchors (&r) are not supported"},
            {"bad_loopback.yaml", ":3:13: services[0].target: ", "not a loopback address"},
            {"bad_client_key.yaml", ":7:9: services[0].authorized_clients[0]: ",
             "is a node ID; authorized_clients takes the client's public key"},
            {"bad_hidden_auth.yaml",
             ":4:14: hidden_auth[1].address: ", "is not a hidden-service address"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vx_config *cfg = (struct vx_config *)1;
        char path[1024], want[1200];
        snprintf(path, sizeof(path), DATA "%s", cases[i].file);
        int rc = vx_config_load(path, &cfg, err, sizeof(err));
        if (rc != VX_ERR_CONFIG)
            fail_msg("%s: rc %d, want VX_ERR_CONFIG", cases[i].file, rc);
        assert_null(cfg);
        snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("%s: got '%s', want prefix '%s'", cases[i].file, err, want);
        if (!strstr(err, cases[i].sub) || strchr(err, '\n') < strstr(err, cases[i].sub))
            if (!strstr(err, cases[i].sub) || strchr(err, '\n'))
                fail_msg("%s: got '%s', want '%s' on the first line", cases[i].file, err,
                         cases[i].sub);
    }
}

static void test_wrong_types(void **state)
{
    (void)state;
    parse_bad("- a\n- b\n", "1:1: ", "top level must be a mapping");
    parse_bad("just words\n", "1:1: ", "top level must be a mapping");
    parse_bad("services: web\n", "1:11: services: ", "expected a list of services");
    parse_bad("services:\n  name: web\n", "2:3: services: ", "got a mapping");
    parse_bad("services:\n  - web\n", "2:5: services[0]: ", "expected a mapping");
    parse_bad("relay: {a: 1}\n", "1:8: relay: ", "expected true or false, got a mapping");
    parse_bad("relay: maybe\n", "1:8: relay: ", "not a boolean");
    parse_bad("relay_hops: [1]\n", "1:13: relay_hops: ", "expected a number, got a list");
    parse_bad("relay_hops: 9\n", "1:13: relay_hops: ", "between 1 and 8");
    parse_bad("relay_hops: -1\n", "1:13: relay_hops: ", "between 1 and 8");
    parse_bad("listen: {a: b}\n", "1:9: listen: ", "got a mapping");
    parse_bad("limits: 5\n", "1:9: limits: ", "expected a mapping of limits");
    parse_bad("transport: udp\n", "1:12: transport: ", "use auto, tcp or quic");
    parse_bad("clearnet: maybe\n", "1:11: clearnet: ", "use deny or allow");
    parse_bad("{? [a]: 1}\n", "1:", "keys must be plain words");
    parse_bad("user: \"a\\0b\"\n", "1:7: user: ", "NUL");
}

static void test_values(void **state)
{
    (void)state;
    struct vx_config *cfg;

    /* booleans */
    static const char *const t[] = {"true", "yes", "on", "True", "YES", "On"};
    static const char *const f[] = {"false", "no", "off", "False", "NO", "Off"};
    char buf[128];
    for (size_t i = 0; i < 6; i++) {
        snprintf(buf, sizeof(buf), "relay: %s\n", t[i]);
        cfg = parse_ok(buf);
        assert_true(cfg->relay);
        vx_config_free(cfg);
        snprintf(buf, sizeof(buf), "relay: %s\n", f[i]);
        cfg = parse_ok(buf);
        assert_false(cfg->relay);
        vx_config_free(cfg);
    }
    /* off switches, bare ports */
    cfg = parse_ok("socks: off\nmetrics: 9100\nxdp: off\nlisten: 4000\n");
    assert_false(cfg->socks_enabled);
    assert_true(cfg->metrics_enabled);
    addr_is(&cfg->metrics, "127.0.0.1:9100");
    assert_null(cfg->xdp_interface);
    assert_int_equal(cfg->n_listen, 1);
    addr_is(&cfg->listen[0], "[::]:4000");
    vx_config_free(cfg);
    /* null means "default" */
    cfg = parse_ok("socks:\nservices:\nlisten: ~\n");
    assert_true(cfg->socks_enabled);
    assert_int_equal(cfg->n_listen, 1);
    vx_config_free(cfg);
    /* an explicit empty list is empty */
    cfg = parse_ok("listen: []\nbootstrap: []\n");
    assert_int_equal(cfg->n_listen, 0);
    vx_config_free(cfg);
    /* durations */
    cfg = parse_ok("limits:\n  handshake_timeout: 3\n  idle_timeout: 2h\n");
    assert_int_equal(cfg->limits.handshake_timeout_ms, 3000);
    assert_int_equal(cfg->limits.idle_timeout_ms, 7200000);
    vx_config_free(cfg);
    parse_bad("limits:\n  idle_timeout: 5 minutes\n",
              "2:17: limits.idle_timeout: ", "not a duration");
    parse_bad("limits:\n  handshake_timeout: 0\n",
              "2:22: limits.handshake_timeout: ", "out of range");
    uint64_t ms;
    assert_int_equal(vx_config_parse_duration("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(vx_config_parse_duration("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(vx_config_parse_duration("7", &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(vx_config_parse_duration("1d", &ms), 0);
    assert_int_equal(ms, 86400000);
    assert_int_equal(vx_config_parse_duration("s", &ms), VX_ERR_INVAL);
    assert_int_equal(vx_config_parse_duration("-1s", &ms), VX_ERR_INVAL);
    assert_int_equal(vx_config_parse_duration("1.5s", &ms), VX_ERR_INVAL);
    assert_int_equal(vx_config_parse_duration("99999999999999s", &ms), VX_ERR_INVAL);
    /* log levels */
    cfg = parse_ok("log_level: warn\n");
    assert_string_equal(cfg->log_level, "warn");
    vx_config_free(cfg);
    parse_bad("log_level: loud\n", "1:12: log_level: ", "unknown level 'loud'");
    parse_bad("log_level: info,dhtt=debug\n", "1:12: log_level: ", "unknown log domain 'dhtt'");
    parse_bad("log_level: info,dht=chatty\n", "1:12: log_level: ", "unknown level 'chatty'");
    /* names */
    parse_bad("user: Alice\n", "1:7: user: ", "lowercase");
    parse_bad("user: -alice\n", "1:7: user: ", "start or end with '-'");
    parse_bad("user: abcdefghijabcdefghijabcdefghijabc\n", "1:7: user: ", "too long");
    parse_bad("user: al.ice\n", "1:7: user: ", "a-z, 0-9 and '-'");
    /* paths */
    parse_bad("data_dir: relative/dir\n", "1:11: data_dir: ", "absolute path");
    char longsock[300];
    snprintf(longsock, sizeof(longsock), "control_socket: /%0150d\n", 0);
    parse_bad(longsock, "1:17: control_socket: ", "too long");
    /* socks auth */
    parse_bad("socks_auth:\n  username: bob\n", "2:3: socks_auth: ", "needs both");
    parse_bad("socks_auth:\n  user: bob\n", "2:3: socks_auth: unknown key 'user'",
              "did you mean 'username'");
    /* xdp */
    parse_bad("xdp:\n  mode: native\n", "2:3: xdp: ", "missing required key 'interface'");
    parse_bad("xdp:\n  interface: eth0\n  mode: turbo\n",
              "3:9: xdp.mode: ", "use native or generic");
    parse_bad("xdp:\n  interface: eth0\n  udp_burst: 0\n", "3:14: xdp.udp_burst: ", "");
    parse_bad("xdp:\n  interface: eth0\n  udp_rate: -1\n", "3:13: xdp.udp_rate: ", "");
}

static void test_services(void **state)
{
    (void)state;
    struct vx_config *cfg;

    parse_bad("services:\n  - target: 8080\n", "2:5: services[0]: ", "missing required key 'name'");
    parse_bad("services:\n  - name: web\n", "2:5: services[0]: ", "needs a target or ports");
    parse_bad("services:\n  - name: web\n    taget: 8080\n",
              "3:5: services[0]: unknown key 'taget'", "did you mean 'target'");
    parse_bad("services:\n  - name: web\n    target: \"[::]:80\"\n",
              "3:13: services[0].target: ", "wildcard");
    /* allow_remote_target after the target still counts */
    cfg = parse_ok(
            "services:\n  - name: web\n    target: 10.0.0.1:80\n    allow_remote_target: on\n");
    assert_true(cfg->services[0].allow_remote_target);
    vx_config_free(cfg);
    /* ports */
    parse_bad("services:\n  - name: web\n    ports:\n      80: 8080\n      \"80\": 8081\n",
              "5:7: services[0].ports: ", "virtual port 80 is mapped twice (first at line 4)");
    parse_bad("services:\n  - name: web\n    ports:\n      - 80 => 8080\n",
              "4:9: services[0].ports[0]: ", "not a port map");
    parse_bad("services:\n  - name: web\n    ports: \"80 -> 8080\"\n",
              "3:12: services[0].ports: ", "expected a mapping");
    parse_bad("services:\n  - name: web\n    ports:\n      80: 192.0.2.1:80\n",
              "4:11: services[0].ports: ", "not a loopback address");
    parse_bad("services:\n  - name: web\n    ports:\n      - 80 -> 127.0.0.1:0\n",
              "4:9: services[0].ports[0]: ", "port 0");
    /* allow list */
    parse_bad("services:\n  - name: web\n    target: 1\n    allow: [abc]\n",
              "4:13: services[0].allow[0]: ", "not a node ID");
    parse_bad("services:\n  - name: web\n    target: 1\n    allow:\n      - "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\n",
              "5:9: services[0].allow[0]: ", "not a node ID");
    /* right length and alphabet, but the last character has bits past 256 */
    parse_bad("services:\n  - name: web\n    target: 1\n    allow:\n      - "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n",
              "5:9: services[0].allow[0]: ", "not a node ID");
    /* enum values */
    parse_bad("services:\n  - name: web\n    target: 1\n    route: onion\n",
              "4:12: services[0].route: ", "use auto, direct or relay");
    parse_bad("services:\n  - name: web\n    target: 1\n    profile: slow\n",
              "4:14: services[0].profile: ", "use fast or balanced");
}

#define PK_A       "436e8da26fb36b8357deb1604ab5e4fc7289eb8b5c01fd74f7039a1441e024c3"
#define HS_A       "dqhwscppbdomg6hqzmitdryscur24bl5sppfkwkagjffrmuiclqpnkab"
#define HIDDEN_SVC "services:\n  - name: web\n    target: 1\n    hidden: true\n"

static void test_client_auth(void **state)
{
    (void)state;
    struct vx_config *cfg;
    char yaml[4096];
    size_t o;

    /* owner side: authorized_clients */
    cfg = parse_ok(HIDDEN_SVC "    authorized_clients: " PK_A "\n");
    assert_int_equal(cfg->services[0].n_clients, 1);
    vx_config_free(cfg);
    cfg = parse_ok(HIDDEN_SVC "    authorized_clients: []\n");
    assert_int_equal(cfg->services[0].n_clients, 0);
    vx_config_free(cfg);
    parse_bad(HIDDEN_SVC "    authorized_clients: [abc]\n",
              "5:26: services[0].authorized_clients[0]: ", "is not a public key (64 hex");
    parse_bad(HIDDEN_SVC "    authorized_clients: [\"" PK_A "0\"]\n",
              "5:26: services[0].authorized_clients[0]: ", "is not a public key (64 hex");
    parse_bad(HIDDEN_SVC "    authorized_clients:\n      - "
                         "436e8da26fb36b8357deb1604ab5e4fc7289eb8b5c01fd74f7039a1441e024cx\n",
              "6:9: services[0].authorized_clients[0]: ", "is not a public key");
    /* 64 hex characters, but not a point of the curve */
    parse_bad(HIDDEN_SVC "    authorized_clients:\n      - "
                         "0200000000000000000000000000000000000000000000000000000000000000\n",
              "6:9: services[0].authorized_clients[0]: ", "not a valid Ed25519 public key");
    parse_bad(HIDDEN_SVC "    authorized_clients:\n      - " PK_A "\n      - \"" PK_A "\"\n",
              "7:9: services[0].authorized_clients[1]: ",
              "client key listed twice (first at line 6)");
    parse_bad(HIDDEN_SVC "    authorized_clients: {a: b}\n",
              "5:25: services[0].authorized_clients: ", "got a mapping");
    parse_bad("services:\n  - name: web\n    target: 1\n    authorized_clients: [" PK_A "]\n",
              "2:5: services[0]: ", "has authorized_clients but is not hidden");
    /* more than a descriptor can carry */
    o = (size_t)snprintf(yaml, sizeof(yaml), HIDDEN_SVC "    authorized_clients:\n");
    for (int i = 0; i <= VX_CONFIG_MAX_CLIENTS; i++)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "      - %s\n", PK_A);
    parse_bad(yaml, "6:7: services[0].authorized_clients: ", "too many entries (17, at most 16)");

    /* client side: hidden_auth */
    cfg = parse_ok("hidden_auth:\n  - address: " HS_A "\n");
    assert_int_equal(cfg->n_hidden_auth, 1);
    assert_null(cfg->hidden_auth[0].key_file);
    assert_int_equal(cfg->hidden_auth[0].pos.line, 2);
    vx_config_free(cfg);
    parse_bad("hidden_auth:\n  - key: /k\n",
              "2:5: hidden_auth[0]: ", "missing required key 'address'");
    parse_bad("hidden_auth:\n  - address: alice.web\n",
              "2:14: hidden_auth[0].address: ", "\"alice.web\" is not a hidden-service address");
    parse_bad("hidden_auth:\n  - address: " HS_A ".onion\n",
              "2:14: hidden_auth[0].address: ", "is not a hidden-service address");
    parse_bad("hidden_auth:\n  - address: " HS_A "\n    key: client.key\n",
              "3:10: hidden_auth[0].key: ", "not an absolute path");
    parse_bad("hidden_auth:\n  - address: " HS_A "\n    keys: /k\n",
              "3:5: hidden_auth[0]: unknown key 'keys'", "did you mean 'key'");
    parse_bad("hidden_auth:\n  - address: " HS_A "\n  - address: " HS_A ".VX6\n",
              "3:14: hidden_auth[1].address: ", "address given twice (first at line 2)");
    parse_bad("hidden_auth: " HS_A "\n", "1:14: hidden_auth: ", "expected a list");
    parse_bad("hidden_auth:\n  - " HS_A "\n", "2:5: hidden_auth[0]: ", "expected a mapping");
    o = (size_t)snprintf(yaml, sizeof(yaml), "hidden_auth:\n");
    for (int i = 0; i <= VX_CONFIG_MAX_HS_AUTH; i++)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  - address: x\n");
    parse_bad(yaml, "2:3: hidden_auth: ", "too many entries (33, at most 32)");
}

static void test_other_lists(void **state)
{
    (void)state;
    parse_bad("bootstrap:\n  - \"[::]:4242\"\n", "2:5: bootstrap[0]: ", "wildcard");
    parse_bad("bootstrap:\n  - peer.example:4242\n", "2:5: bootstrap[0]: ", "not resolved");
    parse_bad("bootstrap:\n  - abc@[2001:db8::1]:4242\n", "2:5: bootstrap[0]: ", "node ID");
    parse_bad("forwards:\n  - listen: 5432\n", "2:5: forwards[0]: ", "missing required key 'to'");
    parse_bad("forwards:\n  - listen: 5432\n    to: alice.db.vx6\n",
              "3:9: forwards[0].to: ", "missing port");
    parse_bad("forwards:\n  - listen: 5432\n    to: \"alice db:1\"\n",
              "3:9: forwards[0].to: ", "host may contain only");
    parse_bad("aliases:\n  db: alice.db.vx6\n  db: bob.db\n",
              "3:3: aliases.db: ", "duplicate key (first given at line 2)");
    parse_bad("aliases:\n  db: a.b.c.d\n", "2:7: aliases.db: ", "USER.SERVICE");
    parse_bad("aliases:\n  DB: alice.db\n", "2:3: aliases.DB: ", "lowercase");
    parse_bad("aliases: [a]\n", "1:10: aliases: ", "expected a mapping");
}

static void test_validate(void **state)
{
    (void)state;
    /* listeners that would fail at bind time */
    parse_bad("listen: [\"[::]:1080\"]\n", "",
              "socks: 127.0.0.1:1080 clashes with listen[0] (same port)");
    parse_bad("listen: [\"[::]:4242\"]\nmetrics: 4242\n", "", "clashes with listen[0]");
    parse_bad("forwards:\n  - listen: 1080\n    to: a.b.vx6:1\n",
              "2:5: forwards[0].listen: ", "clashes with socks");
    parse_bad("limits:\n  max_connections: 10\n  max_connections_per_client: 11\n", "",
              "more than limits.max_connections");
    /* validate() on a config edited in code */
    struct vx_config *cfg = parse_ok("services:\n  - name: web\n    target: 8080\n");
    assert_int_equal(vx_config_validate(cfg, err, sizeof(err)), 0);
    cfg->relay_hops = 0;
    assert_int_equal(vx_config_validate(cfg, err, sizeof(err)), VX_ERR_CONFIG);
    assert_non_null(strstr(err, "relay_hops"));
    cfg->relay_hops = 3;
    cfg->services[0].has_target = false;
    assert_int_equal(vx_config_validate(cfg, err, sizeof(err)), VX_ERR_CONFIG);
    assert_non_null(strstr(err, "t.yaml:2:5: services[0]: service 'web' needs a target"));
    vx_config_free(cfg);
}

static void test_bombs_and_caps(void **state)
{
    (void)state;
    /* billion laughs: refused at the first anchor, nothing expanded */
    parse_bad("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n",
              "1:4: ", "anchors (&a) are not supported");
    parse_bad("user: *x\n", "1:7: ", "aliases (*x) are not supported");
    parse_bad("user: a\n---\nuser: b\n", "2:1: ", "only one YAML document");

    /* more than 1024 services */
    size_t cap = 1100 * 40, o = 0;
    char *big = malloc(cap);
    o += (size_t)snprintf(big + o, cap - o, "services:\n");
    for (int i = 0; i < 1025; i++)
        o += (size_t)snprintf(big + o, cap - o, "  - {name: s%d, target: %d}\n", i, 1000 + i);
    parse_bad(big, "2:3: services: ", "too many services (1025, at most 1024)");
    /* exactly 1024 is fine */
    char *cut = strstr(big, "  - {name: s1024,");
    *cut = '\0';
    struct vx_config *cfg = parse_ok(big);
    assert_int_equal(cfg->n_services, 1024);
    vx_config_free(cfg);
    free(big);

    /* deep nesting */
    char deep[400];
    memset(deep, '[', 200);
    strcpy(deep + 200, "\n");
    memmove(deep + 7, deep, 202);
    memcpy(deep, "relay: ", 7);
    parse_bad(deep, "1:", "nesting too deep");

    /* documents over 1 MiB */
    size_t n = VX_CONFIG_MAX_BYTES + 1;
    char *huge = malloc(n);
    memset(huge, '#', n);
    cfg = (struct vx_config *)1;
    assert_int_equal(vx_config_parse(huge, n, "t.yaml", &cfg, err, sizeof(err)), VX_ERR_TOOBIG);
    assert_null(cfg);
    assert_non_null(strstr(err, "too large"));
    huge[0] = '\n';
    huge[n - 2] = '\n';
    cfg = parse_ok("");
    vx_config_free(cfg);
    assert_int_equal(vx_config_parse(huge, n - 1, "t.yaml", &cfg, err, sizeof(err)), 0);
    vx_config_free(cfg);
    free(huge);

    /* long strings */
    char longpw[600];
    snprintf(longpw, sizeof(longpw), "socks_auth:\n  username: u\n  password: %0300d\n", 0);
    parse_bad(longpw, "3:13: socks_auth.password: ", "too long");

    /* many errors: reported up to the cap, the first one first */
    char many[4096];
    o = 0;
    for (int i = 0; i < 30; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "bogus%d: 1\n", i);
    parse_bad(many, "1:1: unknown key 'bogus0'", NULL);
    size_t lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, VX_CONFIG_MAX_ERRORS); /* 20 errors + a "more" line */
    assert_non_null(strstr(err, "(further errors not shown)"));

    /* a tiny error buffer is truncated, not overrun */
    char small[16];
    memset(small, 'x', sizeof(small));
    cfg = NULL;
    assert_int_equal(vx_config_parse("lisen: 1\n", 9, "t.yaml", &cfg, small, 10), VX_ERR_CONFIG);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(small[10], 'x');
    assert_int_equal(vx_config_parse("lisen: 1\n", 9, "t.yaml", &cfg, NULL, 0), VX_ERR_CONFIG);
}

static void test_load_reload(void **state)
{
    (void)state;
    struct vx_config *cur, *before;
    char path[] = "/tmp/vx6-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);

    assert_int_equal(vx_config_load("/nonexistent/vx6.yaml", &cur, err, sizeof(err)),
                     VX_ERR_NOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/vx6.yaml"));
    assert_int_equal(vx_config_load("/tmp", &cur, err, sizeof(err)), VX_ERR_SYS);

    assert_true(write(fd, "relay_hops: 4\n", 14) == 14);
    cur = NULL;
    assert_int_equal(vx_config_reload(&cur, path, err, sizeof(err)), 0);
    assert_int_equal(cur->relay_hops, 4);
    before = cur;

    /* a broken file leaves the running config alone */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_true(pwrite(fd, "relay_hops: 40\n", 15, 0) == 15);
    assert_int_equal(vx_config_reload(&cur, path, err, sizeof(err)), VX_ERR_CONFIG);
    assert_ptr_equal(cur, before);
    assert_int_equal(cur->relay_hops, 4);
    assert_non_null(strstr(err, ":1:13: relay_hops: "));

    /* a good one replaces it */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_true(pwrite(fd, "relay_hops: 2\n", 14, 0) == 14);
    assert_int_equal(vx_config_reload(&cur, path, err, sizeof(err)), 0);
    assert_int_equal(cur->relay_hops, 2);
    vx_config_free(cur);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),       cmocka_unit_test(test_default_paths_user),
            cmocka_unit_test(test_minimal),        cmocka_unit_test(test_full),
            cmocka_unit_test(test_dump_roundtrip), cmocka_unit_test(test_dump_escapes),
            cmocka_unit_test(test_example_config), cmocka_unit_test(test_bad_files),
            cmocka_unit_test(test_client_auth),    cmocka_unit_test(test_wrong_types),
            cmocka_unit_test(test_values),         cmocka_unit_test(test_services),
            cmocka_unit_test(test_other_lists),    cmocka_unit_test(test_validate),
            cmocka_unit_test(test_bombs_and_caps), cmocka_unit_test(test_load_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
