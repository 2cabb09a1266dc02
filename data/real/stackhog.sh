# stackhog.ko: init calls a function with a 16000-byte local array; with the frames already on
# the stack, its lowest bytes land in the guard page below the stack. The guest panics.
insmod stackhog/stackhog.ko
