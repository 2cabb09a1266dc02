/tmp/kcourse-build/locked/locked.o
