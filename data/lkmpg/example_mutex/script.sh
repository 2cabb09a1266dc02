# example_mutex (LKMPG examples): mutex_trylock and mutex_is_locked.
# Run from data/lkmpg: kcourse sim [--real] --transcript example_mutex/script.sh
insmod example_mutex/example_mutex.ko
dmesg -c
grep '^example_mutex ' /proc/modules
rmmod example_mutex
dmesg -c
