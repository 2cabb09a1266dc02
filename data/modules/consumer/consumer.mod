/tmp/kcourse-build/consumer/consumer.o
