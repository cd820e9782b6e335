# src/crypto: identity, Noise handshake, AEAD channel, key blinding.
libvx6_a_SOURCES += \
	src/crypto/identity.c src/crypto/identity.h \
	src/crypto/noise.h src/crypto/channel.h

check_PROGRAMS += tests/unit/test_identity
TESTS += tests/unit/test_identity
tests_unit_test_identity_SOURCES = tests/unit/test_identity.c
tests_unit_test_identity_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_identity_LDADD = $(VX6_TEST_LIBS)
