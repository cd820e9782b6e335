# conf: build fragment (included from Makefile.am)
