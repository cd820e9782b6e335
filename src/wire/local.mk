# src/wire: pure encode/decode of session messages, bounds-checked cursor.
libvx6_a_SOURCES += \
	src/wire/cursor.c src/wire/cursor.h \
	src/wire/frame.c src/wire/frame.h

check_PROGRAMS += tests/unit/test_wire
tests_unit_test_wire_SOURCES = tests/unit/test_wire.c $(VX6_TESTUTIL)
tests_unit_test_wire_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_wire_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_wire

check_PROGRAMS += tests/fuzz/fuzz_frame
tests_fuzz_fuzz_frame_SOURCES = tests/fuzz/fuzz_frame.c tests/fuzz/driver.c
tests_fuzz_fuzz_frame_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/frame"'
TESTS += tests/fuzz/fuzz_frame
