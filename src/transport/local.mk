# src/transport: authenticated encrypted multiplexed streams (TCP + Noise).
libvx6_a_SOURCES += \
	src/transport/transport.h \
	src/transport/tcp.c src/transport/tcp.h

check_PROGRAMS += tests/unit/test_session
tests_unit_test_session_SOURCES = tests/unit/test_session.c
tests_unit_test_session_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_session_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_session

# Bench helper: built by make check, run by tests/bench/session.sh (not a test).
check_PROGRAMS += tests/bench/session_bench
tests_bench_session_bench_SOURCES = tests/bench/session_bench.c
tests_bench_session_bench_LDADD = $(LDADD) -lpthread
EXTRA_DIST += tests/bench/session.sh

# Test helper: one transport per process (listener or dialer).
check_PROGRAMS += tests/tools/vx6-session-peer
tests_tools_vx6_session_peer_SOURCES = tests/tools/vx6-session-peer.c
TESTS += tests/net/session_two_process.sh
EXTRA_DIST += tests/net/session_two_process.sh

# QUIC carrier (issue 8) and the carrier-independent dispatch of transport.h.
libvx6_a_SOURCES += src/transport/transport.c src/transport/transport_impl.h
libvx6_a_SOURCES += src/transport/quic.c src/transport/quic.h
check_PROGRAMS += tests/unit/test_quic
tests_unit_test_quic_SOURCES = tests/unit/test_quic.c tests/tools/udp-dropper.c \
	tests/tools/udp-dropper.h
tests_unit_test_quic_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_quic_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_quic

# Bench helper for both carriers: built by make check, run by
# tests/bench/transport.sh (not a test).
check_PROGRAMS += tests/bench/transport_bench
tests_bench_transport_bench_SOURCES = tests/bench/transport_bench.c
EXTRA_DIST += tests/bench/transport.sh

# --- relay (issue 6): byte-level stream access (vx_stream_attach & co.) ---
check_PROGRAMS += tests/unit/test_session_io
tests_unit_test_session_io_SOURCES = tests/unit/test_session_io.c
tests_unit_test_session_io_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_session_io_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_session_io

# --- quicio (issue 8 remainders): relay circuits over QUIC transports ---
check_PROGRAMS += tests/unit/test_circuit_quic
tests_unit_test_circuit_quic_SOURCES = tests/unit/test_circuit.c
tests_unit_test_circuit_quic_CFLAGS = $(VX6_TEST_CFLAGS) -DTEST_CIRCUIT_QUIC
tests_unit_test_circuit_quic_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_circuit_quic

# auto carrier: QUIC with TCP fallback, constructors by kind.
libvx6_a_SOURCES += src/transport/auto.c src/transport/auto.h
check_PROGRAMS += tests/unit/test_auto
tests_unit_test_auto_SOURCES = tests/unit/test_auto.c tests/tools/udp-dropper.c \
	tests/tools/udp-dropper.h
tests_unit_test_auto_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_auto_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_auto

# Namespace tests of the auto carrier and of QUIC migration (one transport
# per process: tests/tools/vx6-xfer-peer).
check_PROGRAMS += tests/tools/vx6-xfer-peer
tests_tools_vx6_xfer_peer_SOURCES = tests/tools/vx6-xfer-peer.c
TESTS += tests/net/transport_auto.sh tests/net/quic_migration.sh
EXTRA_DIST += tests/net/transport_auto.sh tests/net/quic_migration.sh
