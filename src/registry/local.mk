# src/registry: signed records (src/wire/record.*, owned here) and the
# persisted local registry.
libvx6_a_SOURCES += \
	src/wire/record.c src/wire/record.h

check_PROGRAMS += tests/unit/test_record
TESTS += tests/unit/test_record
tests_unit_test_record_SOURCES = tests/unit/test_record.c $(VX6_TESTUTIL)
tests_unit_test_record_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_record_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_record
tests_fuzz_fuzz_record_SOURCES = tests/fuzz/fuzz_record.c tests/fuzz/driver.c
tests_fuzz_fuzz_record_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/record"'
TESTS += tests/fuzz/fuzz_record

EXTRA_DIST += tests/tools/record_vectors.py

libvx6_a_SOURCES += src/registry/registry.c src/registry/registry.h
check_PROGRAMS += tests/unit/test_registry
TESTS += tests/unit/test_registry
tests_unit_test_registry_SOURCES = tests/unit/test_registry.c $(VX6_TESTUTIL)
tests_unit_test_registry_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_registry_LDADD = $(VX6_TEST_LIBS)
