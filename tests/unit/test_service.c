/* test_service.c — service table: routing of virtual ports, allow lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/err.h"
#include "service/service.h"

static void v4(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof(*ss));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, ip, &sin->sin_addr);
    *len = sizeof(*sin);
}

static uint16_t port_of(const struct sockaddr *sa)
{
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static void test_route_ports_then_default(void **state)
{
    struct vx_portmap pm[2];
    struct vx_service_def def;
    const struct sockaddr *t;
    socklen_t tl;
    (void)state;
    memset(&def, 0, sizeof(def));
    strcpy(def.name, "web");
    pm[0].vport = 80;
    v4(&pm[0].target, &pm[0].target_len, "127.0.0.1", 8080);
    pm[1].vport = 443;
    v4(&pm[1].target, &pm[1].target_len, "127.0.0.1", 8443);
    def.ports = pm;
    def.nports = 2;
    /* Only a port map: other ports are not published. */
    assert_int_equal(vx_service_route(&def, 80, &t, &tl), 0);
    assert_int_equal(port_of(t), 8080);
    assert_int_equal(vx_service_route(&def, 443, &t, &tl), 0);
    assert_int_equal(port_of(t), 8443);
    assert_int_equal(vx_service_route(&def, 22, &t, &tl), VX_ERR_NOTFOUND);
    /* With a default target, any other port goes there. */
    def.has_target = 1;
    v4(&def.target, &def.target_len, "127.0.0.1", 9000);
    assert_int_equal(vx_service_route(&def, 22, &t, &tl), 0);
    assert_int_equal(port_of(t), 9000);
    assert_int_equal(vx_service_route(&def, 80, &t, &tl), 0);
    assert_int_equal(port_of(t), 8080);
}

static void test_allow_list(void **state)
{
    uint8_t ids[2][VX_NODE_ID_LEN], other[VX_NODE_ID_LEN];
    struct vx_service_def def;
    (void)state;
    memset(&def, 0, sizeof(def));
    memset(ids[0], 1, VX_NODE_ID_LEN);
    memset(ids[1], 2, VX_NODE_ID_LEN);
    memset(other, 3, VX_NODE_ID_LEN);
    assert_true(vx_service_allowed(&def, other)); /* empty list: open */
    def.allow = (const uint8_t(*)[VX_NODE_ID_LEN])ids;
    def.nallow = 2;
    assert_true(vx_service_allowed(&def, ids[0]));
    assert_true(vx_service_allowed(&def, ids[1]));
    assert_false(vx_service_allowed(&def, other));
}

static void test_table_copy_and_reject(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct vx_services *s = vx_services_new(loop);
    struct vx_service_def defs[2];
    struct vx_portmap pm;
    (void)state;
    memset(defs, 0, sizeof(defs));
    strcpy(defs[0].name, "web");
    pm.vport = 80;
    v4(&pm.target, &pm.target_len, "127.0.0.1", 8080);
    defs[0].ports = &pm;
    defs[0].nports = 1;
    strcpy(defs[1].name, "ssh");
    defs[1].has_target = 1;
    v4(&defs[1].target, &defs[1].target_len, "127.0.0.1", 22);
    assert_int_equal(vx_services_set(s, defs, 2), 0);
    /* The table holds its own copy. */
    pm.vport = 81;
    const struct vx_service_def *d = vx_services_find(s, "web");
    assert_non_null(d);
    assert_int_equal(d->ports[0].vport, 80);
    assert_int_equal(vx_services_count(s), 2);
    assert_null(vx_services_find(s, "nope"));

    /* Duplicate names and services without any target are refused, and
     * the old table stays. */
    strcpy(defs[1].name, "web");
    assert_int_equal(vx_services_set(s, defs, 2), VX_ERR_INVAL);
    strcpy(defs[1].name, "ssh");
    defs[1].has_target = 0;
    assert_int_equal(vx_services_set(s, defs, 2), VX_ERR_INVAL);
    assert_non_null(vx_services_find(s, "ssh"));
    vx_services_free(s);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_route_ports_then_default),
            cmocka_unit_test(test_allow_list),
            cmocka_unit_test(test_table_copy_and_reject),
    };
    return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
