# src/transport: build fragment (included from Makefile.am)
libvx6_a_SOURCES += src/transport/transport.h
