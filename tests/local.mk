# tests: build fragment (included from Makefile.am)
