# tests: shared test infrastructure.  Each module's local.mk adds its own
# unit tests (tests/unit/test_<mod>.c, cmocka) and fuzz targets
# (tests/fuzz/fuzz_<parser>.c, run here over their seed corpus by
# tests/fuzz/driver.c).
EXTRA_DIST += tests/fuzz/corpus

# Coverage-guided fuzzing (configure --enable-fuzzing CC=clang).  Every
# check program under tests/fuzz/ whose sources include tests/fuzz/driver.c
# is relinked without the driver against libFuzzer by tests/fuzz/libfuzzer.mk
# (GNU make, read together with this Makefile so it sees each target's
# variables): `make fuzz` builds them into tests/fuzz/libfuzzer/, `make
# fuzz-run FUZZ_SECONDS=N` runs each for N seconds over a copy of its seed
# corpus and keeps crashing inputs in tests/fuzz/crashes/.
EXTRA_DIST += tests/fuzz/libfuzzer.mk tests/fuzz/run-libfuzzer.sh
FUZZ_SECONDS = 10
if ENABLE_FUZZING
fuzz: libvx6.a $(LLHTTP_LOCAL_LIB)
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) -f Makefile -f $(srcdir)/tests/fuzz/libfuzzer.mk fuzz-build
fuzz-run: fuzz
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) -f Makefile -f $(srcdir)/tests/fuzz/libfuzzer.mk \
		fuzz-run-all FUZZ_SECONDS=$(FUZZ_SECONDS)
else
fuzz fuzz-run:
	@echo "libFuzzer targets need: ./configure --enable-fuzzing CC=clang" >&2; exit 1
endif
clean-local: clean-fuzz
clean-fuzz:
	-rm -rf tests/fuzz/libfuzzer
.PHONY: fuzz fuzz-run clean-fuzz
