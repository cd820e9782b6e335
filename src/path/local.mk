# src/path: build fragment (included from Makefile.am)

# --- relay circuits (issue 6) ---
libvx6_a_SOURCES += \
	src/path/onion.c src/path/onion.h \
	src/path/select.c src/path/select.h \
	src/path/circuit.c src/path/circuit.h \
	src/wire/cell.c src/wire/cell.h
