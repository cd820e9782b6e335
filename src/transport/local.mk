# src/transport: build fragment (included from Makefile.am)
