# bpf: build fragment (included from Makefile.am)
