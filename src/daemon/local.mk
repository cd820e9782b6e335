# src/daemon: build fragment (included from Makefile.am)

# configuration: YAML (libyaml) -> typed struct
libvx6_a_SOURCES += src/daemon/config.c src/daemon/config.h
check_PROGRAMS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_config
EXTRA_DIST += \
	tests/unit/config/bad_address.yaml \
	tests/unit/config/bad_alias.yaml \
	tests/unit/config/bad_client_key.yaml \
	tests/unit/config/bad_dup_key.yaml \
	tests/unit/config/bad_dup_service.yaml \
	tests/unit/config/bad_hidden_auth.yaml \
	tests/unit/config/bad_loopback.yaml \
	tests/unit/config/bad_name.yaml \
	tests/unit/config/bad_port.yaml \
	tests/unit/config/bad_syntax.yaml \
	tests/unit/config/bad_unknown_key.yaml \
	tests/unit/config/bad_wrong_type.yaml \
	tests/unit/config/empty.yaml \
	tests/unit/config/full.yaml \
	tests/unit/config/minimal.yaml

check_PROGRAMS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/driver.c
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/config"'
TESTS += tests/fuzz/fuzz_config

# --- vx6d core, control socket (daemon branch) ---
libvx6_a_SOURCES += src/daemon/control.c src/daemon/control.h
check_PROGRAMS += tests/unit/test_control
TESTS += tests/unit/test_control
tests_unit_test_control_SOURCES = tests/unit/test_control.c
tests_unit_test_control_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_control_LDADD = $(VX6_TEST_LIBS)
libvx6_a_SOURCES += src/daemon/daemon.c src/daemon/daemon.h
sbin_PROGRAMS += vx6d
vx6d_SOURCES = src/daemon/vx6d.c
TESTS += tests/net/daemon_basic.sh
EXTRA_DIST += tests/net/daemon_basic.sh

check_PROGRAMS += tests/fuzz/fuzz_control
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c tests/fuzz/driver.c
tests_fuzz_fuzz_control_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/control"'
TESTS += tests/fuzz/fuzz_control

# --- gateway (issue 5): transport + services + path + front from a config ---
libvx6_a_SOURCES += src/daemon/gateway.c src/daemon/gateway.h
# A node made of the gateway alone, for the tests/net scripts.
check_PROGRAMS += tests/tools/vx6-gw-node
tests_tools_vx6_gw_node_SOURCES = tests/tools/vx6-gw-node.c
TESTS += tests/net/gateway_direct.sh tests/net/gateway_isolation.sh
EXTRA_DIST += tests/net/gateway_direct.sh tests/net/gateway_isolation.sh tests/net/lib.sh \
	tests/net/socks5.py

# --- gateway modules in vx6d (gatewaymod.c) ---
libvx6_a_SOURCES += src/daemon/gatewaymod.c src/daemon/gatewaymod.h
# --- discovery (disco branch): registry + DHT module, netlink address watcher ---
libvx6_a_SOURCES += src/daemon/discovery.c src/daemon/discovery.h \
	src/daemon/disco_path.c src/daemon/disco_path.h \
	src/daemon/netwatch.c src/daemon/netwatch.h
check_PROGRAMS += tests/unit/test_discovery
tests_unit_test_discovery_SOURCES = tests/unit/test_discovery.c
tests_unit_test_discovery_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_discovery_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_discovery
TESTS += tests/net/discovery.sh tests/net/addr_change.sh
EXTRA_DIST += tests/net/discovery.sh tests/net/addr_change.sh

# --- relay circuits and hidden services in vx6d (paths branch) ---
libvx6_a_SOURCES += src/daemon/pathmod.c src/daemon/pathmod.h
TESTS += tests/net/vx6d_relay.sh
EXTRA_DIST += tests/net/vx6d_relay.sh
TESTS += tests/net/vx6d_hidden.sh
EXTRA_DIST += tests/net/vx6d_hidden.sh
# 8 vx6d nodes: curl/ssh through 3 and 5 hops, failover, no plaintext (issue 6)
TESTS += tests/net/vx6d_relay_net.sh tests/net/vx6d_relay_net_tcp.sh
EXTRA_DIST += tests/net/vx6d_relay_net.sh tests/net/vx6d_relay_net_tcp.sh tests/net/memscan.py

# --- ssh/scp through vx6d (issue 5) ---
TESTS += tests/net/ssh_scp.sh
EXTRA_DIST += tests/net/ssh_scp.sh
# --- dops: XDP module, metrics module, systemd notifications ---
libvx6_a_SOURCES += src/daemon/xdpmod.c src/daemon/xdpmod.h \
	src/daemon/metricsmod.c src/daemon/metricsmod.h \
	src/daemon/notify.c src/daemon/notify.h
TESTS += tests/net/sdnotify.sh
EXTRA_DIST += tests/net/sdnotify.sh
EXTRA_DIST += tests/net/xdp_daemon.sh tests/net/xdp_flood.sh
if HAVE_XDP
TESTS += tests/net/xdp_daemon.sh tests/net/xdp_flood.sh
endif
TESTS += tests/net/metrics.sh
EXTRA_DIST += tests/net/metrics.sh
TESTS += tests/net/limits.sh
EXTRA_DIST += tests/net/limits.sh

# soak test: not in `make check`; `make soak` (SOAK_MINUTES=3 by default)
EXTRA_DIST += tests/soak/soak.sh tests/soak/soakload.py
soak: all
	VX6_BUILDDIR='$(abs_top_builddir)' VX6_SRCDIR='$(abs_top_srcdir)' $(BASH) $(top_srcdir)/tests/soak/soak.sh
.PHONY: soak
