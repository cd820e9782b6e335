# src/cli: build fragment (included from Makefile.am)
