# src/lib: buffers, logging, errors, addresses, time, base32, files.
libvx6_a_SOURCES += \
	src/lib/err.c src/lib/err.h \
	src/lib/log.c src/lib/log.h \
	src/lib/vxtime.c src/lib/vxtime.h
libvx6_a_SOURCES += \
	src/lib/base32.c src/lib/base32.h \
	src/lib/buf.c src/lib/buf.h \
	src/lib/fileio.c src/lib/fileio.h \
	src/lib/xalloc.c src/lib/xalloc.h

check_PROGRAMS += tests/unit/test_base32 tests/unit/test_buf
TESTS += tests/unit/test_base32 tests/unit/test_buf
tests_unit_test_base32_SOURCES = tests/unit/test_base32.c
tests_unit_test_base32_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_base32_LDADD = $(VX6_TEST_LIBS)
tests_unit_test_buf_SOURCES = tests/unit/test_buf.c
tests_unit_test_buf_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_buf_LDADD = $(VX6_TEST_LIBS)

# addresses (parse/format/compare)
libvx6_a_SOURCES += src/lib/addr.c src/lib/addr.h
check_PROGRAMS += tests/unit/test_addr
tests_unit_test_addr_SOURCES = tests/unit/test_addr.c
tests_unit_test_addr_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_addr_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_addr

# ops: metrics registry + Prometheus endpoint, systemd notify, limits.
libvx6_a_SOURCES += src/lib/metrics.c src/lib/metrics.h
check_PROGRAMS += tests/unit/test_metrics
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c
tests_unit_test_metrics_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_metrics_LDADD = $(VX6_TEST_LIBS) -lpthread
TESTS += tests/unit/test_metrics

check_PROGRAMS += tests/fuzz/fuzz_metrics_http
tests_fuzz_fuzz_metrics_http_SOURCES = tests/fuzz/fuzz_metrics_http.c tests/fuzz/driver.c
tests_fuzz_fuzz_metrics_http_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/metrics_http"'
TESTS += tests/fuzz/fuzz_metrics_http

libvx6_a_SOURCES += src/lib/sdnotify.c src/lib/sdnotify.h
check_PROGRAMS += tests/unit/test_sdnotify
tests_unit_test_sdnotify_SOURCES = tests/unit/test_sdnotify.c
tests_unit_test_sdnotify_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_sdnotify_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_sdnotify

libvx6_a_SOURCES += src/lib/limits.c src/lib/limits.h
check_PROGRAMS += tests/unit/test_limits
tests_unit_test_limits_SOURCES = tests/unit/test_limits.c
tests_unit_test_limits_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_limits_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_limits

# json: tiny JSON writer (control socket, CLI --json)
libvx6_a_SOURCES += src/lib/json.c src/lib/json.h
check_PROGRAMS += tests/unit/test_json
TESTS += tests/unit/test_json
tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_json_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_addr
tests_fuzz_fuzz_addr_SOURCES = tests/fuzz/fuzz_addr.c tests/fuzz/driver.c
tests_fuzz_fuzz_addr_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/addr"'
TESTS += tests/fuzz/fuzz_addr
