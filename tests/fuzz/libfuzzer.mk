# libfuzzer.mk — libFuzzer builds of the tests/fuzz targets.  GNU make only;
# not read by automake.  Used as `make -f Makefile -f tests/fuzz/libfuzzer.mk`
# (see `make fuzz` in tests/local.mk) so every automake variable is visible:
# the targets are discovered from check_PROGRAMS, nothing here names one.

FUZZ_OUT = tests/fuzz/libfuzzer

# tests/fuzz/fuzz_x -> tests_fuzz_fuzz_x (automake's canonical name)
fuzz_canon = $(subst -,_,$(subst .,_,$(subst /,_,$(1))))
# A per-target variable, or the default automake would use.
fuzz_var = $(if $(filter undefined,$(origin $(call fuzz_canon,$(1))_$(2))),$(3),$($(call fuzz_canon,$(1))_$(2)))
fuzz_sources = $($(call fuzz_canon,$(1))_SOURCES)
# The .c files to compile: the target's own, without the standalone driver.
fuzz_cfiles = $(addprefix $(srcdir)/,$(filter %.c,$(filter-out tests/fuzz/driver.c,$(call fuzz_sources,$(1)))))
# The seed corpus named by -DFUZZ_CORPUS, else tests/fuzz/corpus/<name without fuzz_>.
fuzz_corpus_flag = $(patsubst -DFUZZ_CORPUS='"%"',%,$(filter -DFUZZ_CORPUS=%,$(call fuzz_var,$(1),CPPFLAGS,)))
fuzz_corpus = $(if $(call fuzz_corpus_flag,$(1)),$(call fuzz_corpus_flag,$(1)),$(abs_top_srcdir)/tests/fuzz/corpus/$(patsubst fuzz_%,%,$(notdir $(1))))

FUZZ_PROGS := $(strip $(foreach p,$(filter tests/fuzz/%,$(check_PROGRAMS)),\
	$(if $(filter tests/fuzz/driver.c,$(call fuzz_sources,$(p))),$(p))))
FUZZ_BINS := $(addprefix $(FUZZ_OUT)/,$(notdir $(FUZZ_PROGS)))

define fuzz_rule
$(FUZZ_OUT)/$(notdir $(1)): $(call fuzz_cfiles,$(1)) libvx6.a $(LLHTTP_LOCAL_LIB) fuzz-force
	@$(MKDIR_P) $(FUZZ_OUT)
	$$(AM_V_CCLD)$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(INCLUDES) \
		$(call fuzz_var,$(1),CPPFLAGS,$(AM_CPPFLAGS)) $(CPPFLAGS) \
		$(call fuzz_var,$(1),CFLAGS,$(AM_CFLAGS)) $(CFLAGS) $(FUZZ_LDFLAGS) \
		-o $$@ $(call fuzz_cfiles,$(1)) $(call fuzz_var,$(1),LDADD,$(LDADD)) $(LIBS)
endef
$(foreach p,$(FUZZ_PROGS),$(eval $(call fuzz_rule,$(p))))

fuzz-build: $(FUZZ_BINS)
	@echo "libFuzzer targets in $(FUZZ_OUT)/: $(notdir $(FUZZ_BINS))"

fuzz-run-all: fuzz-build
	$(SHELL) $(srcdir)/tests/fuzz/run-libfuzzer.sh $(FUZZ_SECONDS) tests/fuzz/crashes \
		$(foreach p,$(FUZZ_PROGS),$(FUZZ_OUT)/$(notdir $(p))=$(call fuzz_corpus,$(p)))

fuzz-list:
	@echo $(FUZZ_PROGS)

fuzz-force:
.PHONY: fuzz-build fuzz-run-all fuzz-list fuzz-force
