# tests: shared test infrastructure.  Each module's local.mk adds its own
# unit tests (tests/unit/test_<mod>.c, cmocka) and fuzz targets
# (tests/fuzz/fuzz_<parser>.c, run here over their seed corpus by
# tests/fuzz/driver.c).
EXTRA_DIST += tests/fuzz/corpus
