# src/daemon: build fragment (included from Makefile.am)

# --- vx6d core, control socket (daemon branch) ---
libvx6_a_SOURCES += src/daemon/control.c src/daemon/control.h
check_PROGRAMS += tests/unit/test_control
TESTS += tests/unit/test_control
tests_unit_test_control_SOURCES = tests/unit/test_control.c
tests_unit_test_control_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_control_LDADD = $(VX6_TEST_LIBS)
