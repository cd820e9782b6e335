# contrib: build fragment (included from Makefile.am)
