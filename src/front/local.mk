# src/front: build fragment (included from Makefile.am)
