# example_spinlock (LKMPG examples): spinlocks, static and dynamic.
# Run from data/lkmpg: kcourse sim [--real] --transcript example_spinlock/script.sh
insmod example_spinlock/example_spinlock.ko
dmesg -c
grep '^example_spinlock ' /proc/modules
rmmod example_spinlock
dmesg -c
