# man: build fragment (included from Makefile.am)

# vx6d(8), vx6(1), vx6-nc(1)
dist_man_MANS += man/vx6d.8 man/vx6.1 man/vx6-nc.1
