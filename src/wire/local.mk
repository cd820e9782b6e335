# src/wire: build fragment (included from Makefile.am)
