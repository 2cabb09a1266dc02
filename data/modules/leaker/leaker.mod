/tmp/kcourse-build/leaker/leaker.o
