# src/path: build fragment (included from Makefile.am)
# Names to streams: direct IPv6, named (resolver hook), aliases, clearnet.
libvx6_a_SOURCES += src/path/path.c src/path/path.h
