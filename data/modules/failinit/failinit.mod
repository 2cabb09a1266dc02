/tmp/kcourse-build/failinit/failinit.o
