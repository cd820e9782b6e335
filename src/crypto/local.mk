# src/crypto: build fragment (included from Makefile.am)
