/tmp/kcourse-build/hello/hello.o
