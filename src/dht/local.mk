# src/dht: Kademlia over UDP.  dhtmsg (pure codec), routing (k-buckets),
# lookup (iterative lookup state machine) and core (sans-IO protocol engine)
# are shared by the real DHT (dht.c: UDP + libev) and the simulator.
libvx6_a_SOURCES += \
	src/dht/dhtmsg.c src/dht/dhtmsg.h \
	src/dht/routing.c src/dht/routing.h \
	src/dht/lookup.c src/dht/lookup.h \
	src/dht/core.c src/dht/core.h

check_PROGRAMS += tests/sim/dhtsim
tests_sim_dhtsim_SOURCES = tests/sim/dhtsim.c
TESTS += tests/sim/dhtsim.sh
EXTRA_DIST += tests/sim/dhtsim.sh

libvx6_a_SOURCES += src/dht/dht.c src/dht/dht.h

check_PROGRAMS += tests/unit/test_dhtmsg tests/unit/test_dht
TESTS += tests/unit/test_dhtmsg tests/unit/test_dht
tests_unit_test_dhtmsg_SOURCES = tests/unit/test_dhtmsg.c $(VX6_TESTUTIL)
tests_unit_test_dhtmsg_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_dhtmsg_LDADD = $(VX6_TEST_LIBS)
tests_unit_test_dht_SOURCES = tests/unit/test_dht.c $(VX6_TESTUTIL)
tests_unit_test_dht_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_dht_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_dhtmsg
tests_fuzz_fuzz_dhtmsg_SOURCES = tests/fuzz/fuzz_dhtmsg.c tests/fuzz/driver.c
tests_fuzz_fuzz_dhtmsg_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/dhtmsg"'
TESTS += tests/fuzz/fuzz_dhtmsg
