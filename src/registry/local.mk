# src/registry: build fragment (included from Makefile.am)
