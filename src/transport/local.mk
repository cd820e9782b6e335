# src/transport: build fragment (included from Makefile.am)

# QUIC carrier (issue 8) and the carrier-independent dispatch of transport.h.
libvx6_a_SOURCES += src/transport/transport.c src/transport/transport_impl.h
libvx6_a_SOURCES += src/transport/quic.c src/transport/quic.h
check_PROGRAMS += tests/unit/test_quic
tests_unit_test_quic_SOURCES = tests/unit/test_quic.c tests/tools/udp-dropper.c \
	tests/tools/udp-dropper.h
tests_unit_test_quic_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_quic_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_quic
