# src/daemon: build fragment (included from Makefile.am)
