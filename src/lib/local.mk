# src/lib: buffers, logging, errors, addresses, time, base32, files.
libvx6_a_SOURCES += \
	src/lib/err.c src/lib/err.h \
	src/lib/log.c src/lib/log.h \
	src/lib/vxtime.c src/lib/vxtime.h
