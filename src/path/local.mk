# src/path: build fragment (included from Makefile.am)

# --- relay circuits (issue 6) ---
libvx6_a_SOURCES += \
	src/path/onion.c src/path/onion.h \
	src/path/select.c src/path/select.h \
	src/path/circuit.c src/path/circuit.h \
	src/wire/cell.c src/wire/cell.h

check_PROGRAMS += tests/unit/test_circuit
tests_unit_test_circuit_SOURCES = tests/unit/test_circuit.c
tests_unit_test_circuit_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_circuit_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_circuit

check_PROGRAMS += tests/fuzz/fuzz_cell
tests_fuzz_fuzz_cell_SOURCES = tests/fuzz/fuzz_cell.c tests/fuzz/driver.c
tests_fuzz_fuzz_cell_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/cell"'
TESTS += tests/fuzz/fuzz_cell

# Test helper: one circuit-capable node per process (tests/net/relay.sh, tests/bench/relay.sh).
check_PROGRAMS += tests/tools/vx6-relay-node
tests_tools_vx6_relay_node_SOURCES = tests/tools/vx6-relay-node.c
# ...and its load generator (a C source and sink: python cost as much as a hop).
check_PROGRAMS += tests/tools/vx6-tcpblast
tests_tools_vx6_tcpblast_SOURCES = tests/tools/vx6-tcpblast.c
tests_tools_vx6_tcpblast_LDADD =
TESTS += tests/net/relay.sh
EXTRA_DIST += tests/net/relay.sh tests/net/capture.py tests/bench/relay.sh

# Names to streams: direct IPv6, named (resolver hook), aliases, clearnet.
libvx6_a_SOURCES += src/path/path.c src/path/path.h

check_PROGRAMS += tests/fuzz/fuzz_path_opts
tests_fuzz_fuzz_path_opts_SOURCES = tests/fuzz/fuzz_path_opts.c tests/fuzz/driver.c
tests_fuzz_fuzz_path_opts_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/path_opts"'
TESTS += tests/fuzz/fuzz_path_opts
