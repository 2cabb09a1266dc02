/tmp/kcourse-build/noexit/noexit.o
