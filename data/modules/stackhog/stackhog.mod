/tmp/kcourse-build/stackhog/stackhog.o
