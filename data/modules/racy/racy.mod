/tmp/kcourse-build/racy/racy.o
