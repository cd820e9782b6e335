# bpf: the XDP classifier and its loader (src/daemon/xdp.[ch]).
#
# bpf/vx6_xdp.bpf.c is compiled with clang -target bpf and embedded into the
# loader through a bpftool-generated skeleton.  Without HAVE_XDP the loader
# still builds and answers "built without XDP support".
libvx6_a_SOURCES += src/daemon/xdp.c src/daemon/xdp.h
EXTRA_DIST += bpf/vx6_xdp.bpf.c bpf/vx6_xdp.h

if HAVE_XDP
BUILT_SOURCES += bpf/vx6_xdp.skel.h
CLEANFILES += bpf/vx6_xdp.bpf.o bpf/vx6_xdp.skel.h

# clang -target bpf does not search the multiarch include directory that
# holds <asm/types.h>; ask the host compiler for it.
VX6_BPF_CLANG_FLAGS = -O2 -g -target bpf -mcpu=v3 -Wall -Werror -I$(top_srcdir)/bpf

bpf/vx6_xdp.bpf.o: $(top_srcdir)/bpf/vx6_xdp.bpf.c $(top_srcdir)/bpf/vx6_xdp.h
	$(AM_V_GEN)$(MKDIR_P) bpf && \
	ma=`$(CC) -print-multiarch 2>/dev/null`; \
	inc=; test -n "$$ma" && test -d "/usr/include/$$ma" && inc="-idirafter /usr/include/$$ma"; \
	$(CLANG) $(VX6_BPF_CLANG_FLAGS) $$inc -c $(top_srcdir)/bpf/vx6_xdp.bpf.c -o $@

bpf/vx6_xdp.skel.h: bpf/vx6_xdp.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton bpf/vx6_xdp.bpf.o name vx6_xdp_bpf > $@.tmp && mv $@.tmp $@
endif

# Standalone admin/test tool until vx6d's control socket integrates the loader.
noinst_PROGRAMS += tests/tools/vx6-xdpctl tests/tools/vx6-udpblast
tests_tools_vx6_xdpctl_SOURCES = tests/tools/vx6-xdpctl.c
tests_tools_vx6_udpblast_SOURCES = tests/tools/vx6-udpblast.c

check_PROGRAMS += tests/unit/test_xdp
tests_unit_test_xdp_SOURCES = tests/unit/test_xdp.c
tests_unit_test_xdp_CFLAGS = $(VX6_TEST_CFLAGS)
tests_unit_test_xdp_LDADD = $(VX6_TEST_LIBS)
TESTS += tests/unit/test_xdp
EXTRA_DIST += tests/net/xdp.sh tests/net/vx6udp.py tests/bench/xdp.sh
if HAVE_XDP
# Namespaces + veth; skips (77) unless root.
TESTS += tests/net/xdp.sh
endif

