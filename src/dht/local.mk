# src/dht: build fragment (included from Makefile.am)
