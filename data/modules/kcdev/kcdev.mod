/tmp/kcourse-build/kcdev/kcdev.o
