# src/hidden: hidden services — addresses, descriptors, introduction and
# rendezvous messages (pure), replay cache.
libvx6_a_SOURCES += \
	src/hidden/hsaddr.c src/hidden/hsaddr.h

check_PROGRAMS += tests/unit/test_hsaddr
tests_unit_test_hsaddr_SOURCES = tests/unit/test_hsaddr.c
tests_unit_test_hsaddr_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_hsaddr_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_hsaddr

libvx6_a_SOURCES += src/hidden/descriptor.c src/hidden/descriptor.h src/hidden/descriptor_private.h
check_PROGRAMS += tests/unit/test_descriptor
tests_unit_test_descriptor_SOURCES = tests/unit/test_descriptor.c
tests_unit_test_descriptor_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_descriptor_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_descriptor
check_PROGRAMS += tests/fuzz/fuzz_descriptor
tests_fuzz_fuzz_descriptor_SOURCES = tests/fuzz/fuzz_descriptor.c tests/fuzz/driver.c
tests_fuzz_fuzz_descriptor_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/descriptor"'
TESTS += tests/fuzz/fuzz_descriptor

libvx6_a_SOURCES += src/hidden/intro.c src/hidden/intro.h
check_PROGRAMS += tests/unit/test_intro
tests_unit_test_intro_SOURCES = tests/unit/test_intro.c
tests_unit_test_intro_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_intro_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_intro
check_PROGRAMS += tests/fuzz/fuzz_intro
tests_fuzz_fuzz_intro_SOURCES = tests/fuzz/fuzz_intro.c tests/fuzz/driver.c
tests_fuzz_fuzz_intro_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/intro"'
TESTS += tests/fuzz/fuzz_intro

libvx6_a_SOURCES += src/hidden/hsdir.c src/hidden/hsdir.h
check_PROGRAMS += tests/unit/test_hsdir
tests_unit_test_hsdir_SOURCES = tests/unit/test_hsdir.c
tests_unit_test_hsdir_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_hsdir_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_hsdir

libvx6_a_SOURCES += src/hidden/hsnet.c src/hidden/hsnet.h
check_PROGRAMS += tests/unit/test_hsnet
tests_unit_test_hsnet_SOURCES = tests/unit/test_hsnet.c
tests_unit_test_hsnet_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_hsnet_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_hsnet
EXTRA_DIST += tests/vectors/hidden_ref.py

# vx6 hidden (src/cli/hidden_cmds.c)
TESTS += tests/net/hidden_cli.sh
EXTRA_DIST += tests/net/hidden_cli.sh

# --- hidden services over circuits (issue 7) ---
libvx6_a_SOURCES += src/hidden/hsconn.c src/hidden/hsconn.h
check_PROGRAMS += tests/unit/test_hsconn
tests_unit_test_hsconn_SOURCES = tests/unit/test_hsconn.c
tests_unit_test_hsconn_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_hsconn_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_hsconn
# Test helper: one hidden-service-capable node per process (tests/net/hidden.sh, tests/bench/hidden.sh).
check_PROGRAMS += tests/tools/vx6-hs-node
tests_tools_vx6_hs_node_SOURCES = tests/tools/vx6-hs-node.c
TESTS += tests/net/hidden.sh
EXTRA_DIST += tests/net/hidden.sh tests/bench/hidden.sh
