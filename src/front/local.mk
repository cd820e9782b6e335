# src/front: build fragment (included from Makefile.am)
# Pure parsers and mappings of the local proxy front-end (no I/O).
libvx6_a_SOURCES += \
	src/front/errors.c src/front/errors.h \
	src/front/sniff.c src/front/sniff.h \
	src/front/socks.c src/front/socks.h

check_PROGRAMS += tests/unit/test_socks
tests_unit_test_socks_SOURCES = tests/unit/test_socks.c
tests_unit_test_socks_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_socks_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_socks

check_PROGRAMS += tests/unit/test_front_errors
tests_unit_test_front_errors_SOURCES = tests/unit/test_front_errors.c
tests_unit_test_front_errors_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_front_errors_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_front_errors

check_PROGRAMS += tests/fuzz/fuzz_socks
tests_fuzz_fuzz_socks_SOURCES = tests/fuzz/fuzz_socks.c tests/fuzz/driver.c
tests_fuzz_fuzz_socks_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/socks"'
TESTS += tests/fuzz/fuzz_socks

libvx6_a_SOURCES += src/front/name.c src/front/name.h
check_PROGRAMS += tests/unit/test_name
tests_unit_test_name_SOURCES = tests/unit/test_name.c
tests_unit_test_name_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_name_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_name

check_PROGRAMS += tests/fuzz/fuzz_name
tests_fuzz_fuzz_name_SOURCES = tests/fuzz/fuzz_name.c tests/fuzz/driver.c
tests_fuzz_fuzz_name_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/name"'
TESTS += tests/fuzz/fuzz_name

libvx6_a_SOURCES += src/front/http.c src/front/http.h
check_PROGRAMS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_http_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_http

check_PROGRAMS += tests/fuzz/fuzz_http
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz_http.c tests/fuzz/driver.c
tests_fuzz_fuzz_http_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/http"'
TESTS += tests/fuzz/fuzz_http

libvx6_a_SOURCES += src/front/pac.c src/front/pac.h
check_PROGRAMS += tests/unit/test_pac
tests_unit_test_pac_SOURCES = tests/unit/test_pac.c
tests_unit_test_pac_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_pac_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_pac

# The proxy front-end: listener, per-connection state machine, local forwards.
libvx6_a_SOURCES += src/front/front.c src/front/front.h
check_PROGRAMS += tests/unit/test_front
tests_unit_test_front_SOURCES = tests/unit/test_front.c
tests_unit_test_front_CFLAGS = $(VX6_TEST_CFLAGS) -pthread
tests_unit_test_front_LDADD = $(VX6_TEST_LIBS) -lpthread
TESTS += tests/unit/test_front
