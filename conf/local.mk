# conf: build fragment (included from Makefile.am)
# The commented example of every vx6.yaml key (tests/unit/test_config loads it).
examplesdir = $(docdir)/examples
dist_examples_DATA = conf/vx6.yaml
dist_man_MANS += man/vx6.yaml.5
