# src/cli: build fragment (included from Makefile.am)

# vx6: the control CLI; vx6-nc: the ssh ProxyCommand helper.
libvx6_a_SOURCES += src/cli/ctlclient.c src/cli/ctlclient.h
bin_PROGRAMS += vx6 vx6-nc
vx6_SOURCES = src/cli/vx6.c src/cli/cli.h src/cli/daemon_cmds.c src/cli/key_cmds.c \
	src/cli/hidden_cmds.c src/cli/gw_cmds.c
vx6_nc_SOURCES = src/cli/vx6-nc.c
TESTS += tests/net/vx6nc.sh
EXTRA_DIST += tests/net/vx6nc.sh tests/net/socks5_stub.py

# --- discovery (disco branch): resolve, trust, peers, publish, alias ---
vx6_SOURCES += src/cli/disco_cmds.c
# --- dops: vx6 ebpf ---
vx6_SOURCES += src/cli/ebpf_cmds.c
