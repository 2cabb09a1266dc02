# example_atomic (LKMPG examples): atomic_t and the bit operations.
# Run from data/lkmpg: kcourse sim [--real] --transcript example_atomic/script.sh
insmod example_atomic/example_atomic.ko
dmesg -c
grep '^example_atomic ' /proc/modules
rmmod example_atomic
dmesg -c
