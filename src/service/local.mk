# src/service: build fragment (included from Makefile.am)
