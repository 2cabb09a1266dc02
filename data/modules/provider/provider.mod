/tmp/kcourse-build/provider/provider.o
