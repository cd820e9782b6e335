# src/crypto: identity, Noise handshake, AEAD channel, key blinding.
libvx6_a_SOURCES += \
	src/crypto/identity.c src/crypto/identity.h \
	src/crypto/channel.c src/crypto/channel.h \
	src/crypto/noise.c src/crypto/noise.h src/crypto/noise_private.h

check_PROGRAMS += tests/unit/test_identity
TESTS += tests/unit/test_identity
tests_unit_test_identity_SOURCES = tests/unit/test_identity.c $(VX6_TESTUTIL)
tests_unit_test_identity_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_identity_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/unit/test_channel
TESTS += tests/unit/test_channel
tests_unit_test_channel_SOURCES = tests/unit/test_channel.c $(VX6_TESTUTIL)
tests_unit_test_channel_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_channel_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/unit/test_noise
TESTS += tests/unit/test_noise
tests_unit_test_noise_SOURCES = tests/unit/test_noise.c $(VX6_TESTUTIL)
tests_unit_test_noise_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_noise_LDADD = $(VX6_TEST_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_noise
TESTS += tests/fuzz/fuzz_noise
tests_fuzz_fuzz_noise_SOURCES = tests/fuzz/fuzz_noise.c tests/fuzz/noise_cast.h tests/fuzz/driver.c
tests_fuzz_fuzz_noise_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/noise"'

# Seal throughput of the record AEADs: built by make check, run by hand.
check_PROGRAMS += tests/bench/chan_speed
tests_bench_chan_speed_SOURCES = tests/bench/chan_speed.c

EXTRA_DIST += tests/vectors/noise.txt tests/vectors/channel.txt

# Writes the fuzz_noise seed corpus (run by hand, output committed).
check_PROGRAMS += tests/fuzz/gen_noise_corpus
tests_fuzz_gen_noise_corpus_SOURCES = tests/fuzz/gen_noise_corpus.c tests/fuzz/noise_cast.h

dist_man_MANS += man/vx6-protocol.7

# key blinding for hidden services (per-period blinded Ed25519 keys)
libvx6_a_SOURCES += src/crypto/blind.c src/crypto/blind.h
check_PROGRAMS += tests/unit/test_blind
TESTS += tests/unit/test_blind
tests_unit_test_blind_SOURCES = tests/unit/test_blind.c
tests_unit_test_blind_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_blind_LDADD = $(VX6_TEST_LIBS)
