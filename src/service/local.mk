# src/service: the reverse side, streams into published localhost services.
libvx6_a_SOURCES += src/service/service.c src/service/service.h


check_PROGRAMS += tests/unit/test_service
TESTS += tests/unit/test_service
tests_unit_test_service_SOURCES = tests/unit/test_service.c
tests_unit_test_service_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_service_LDADD = $(VX6_TEST_LIBS)
