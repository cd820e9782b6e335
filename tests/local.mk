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
EXTRA_DIST += tests/fuzz/libfuzzer.mk tests/fuzz/run-libfuzzer.sh tests/fuzz/config.dict
FUZZ_SECONDS = 10
if ENABLE_FUZZING
# In steps: generated headers (BUILT_SOURCES, made only by all/check) before
# the library that includes them, so `make fuzz` works in a fresh build dir.
fuzz:
	$(AM_V_at)for f in $(BUILT_SOURCES); do $(MAKE) $(AM_MAKEFLAGS) $$f || exit 1; done
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) libvx6.a $(LLHTTP_LOCAL_LIB)
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

# Every cmocka unit test (tests/unit/test_* in TESTS) under valgrind: any
# memory error or definite/possible leak fails.  Needs a build without
# sanitizers.  VALGRIND_FLAGS adds options (e.g. --track-origins=yes);
# tests/valgrind.supp lists known false positives.
EXTRA_DIST += tests/valgrind.supp
VALGRIND = valgrind
VALGRIND_FLAGS =
check-valgrind: $(check_PROGRAMS)
	@if test -n "$(SAN_CFLAGS)"; then \
	  echo "check-valgrind: reconfigure without --enable-sanitizers/--enable-fuzzing" >&2; exit 1; fi
	@command -v $(VALGRIND) >/dev/null || { echo "check-valgrind: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
	@$(MKDIR_P) tests/valgrind; fail=0; n=0; \
	$(AM_TESTS_ENVIRONMENT) \
	for t in $(TESTS); do \
	  case $$t in tests/unit/test_*) ;; *) continue ;; esac; \
	  n=$$((n + 1)); log=tests/valgrind/$$(basename $$t).log; \
	  if $(VALGRIND) -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,possible \
	       --errors-for-leak-kinds=definite,possible \
	       --suppressions=$(srcdir)/tests/valgrind.supp $(VALGRIND_FLAGS) ./$$t >$$log 2>&1; then \
	    echo "PASS: $$t"; \
	  else \
	    echo "FAIL: $$t (see $$log)"; grep '^==' $$log | head -n 40; fail=$$((fail + 1)); \
	  fi; \
	done; \
	echo "check-valgrind: $$n unit tests, $$fail failed"; test $$fail -eq 0
clean-local: clean-valgrind
clean-valgrind:
	-rm -rf tests/valgrind
.PHONY: check-valgrind clean-valgrind
