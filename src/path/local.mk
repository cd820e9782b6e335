# src/path: build fragment (included from Makefile.am)
