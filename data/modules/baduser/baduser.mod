/tmp/kcourse-build/baduser/baduser.o
