# example_rwlock (LKMPG examples): read/write locks.
# Run from data/lkmpg: kcourse sim [--real] --transcript example_rwlock/script.sh
insmod example_rwlock/example_rwlock.ko
dmesg -c
grep '^example_rwlock ' /proc/modules
rmmod example_rwlock
dmesg -c
