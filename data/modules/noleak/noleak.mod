/tmp/kcourse-build/noleak/noleak.o
