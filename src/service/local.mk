# src/service: the reverse side, streams into published localhost services.
libvx6_a_SOURCES += src/service/service.c src/service/service.h

