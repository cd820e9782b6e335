# src/hidden: hidden services — addresses, descriptors, introduction and
# rendezvous messages (pure), replay cache.
libvx6_a_SOURCES += \
	src/hidden/hsaddr.c src/hidden/hsaddr.h

check_PROGRAMS += tests/unit/test_hsaddr
tests_unit_test_hsaddr_SOURCES = tests/unit/test_hsaddr.c
tests_unit_test_hsaddr_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_hsaddr_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_hsaddr
