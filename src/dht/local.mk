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
