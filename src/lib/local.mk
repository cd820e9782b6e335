# src/lib: buffers, logging, errors, addresses, time, base32, files.
libvx6_a_SOURCES += \
	src/lib/err.c src/lib/err.h \
	src/lib/log.c src/lib/log.h \
	src/lib/vxtime.c src/lib/vxtime.h

# addresses (parse/format/compare)
libvx6_a_SOURCES += src/lib/addr.c src/lib/addr.h
check_PROGRAMS += tests/unit/test_addr
tests_unit_test_addr_SOURCES = tests/unit/test_addr.c
tests_unit_test_addr_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_addr_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_addr
