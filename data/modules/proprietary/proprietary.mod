/tmp/kcourse-build/proprietary/proprietary.o
