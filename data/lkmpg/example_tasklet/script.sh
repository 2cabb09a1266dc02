# example_tasklet (LKMPG examples): a tasklet that busy-waits 5 s, scheduled from init.
# Run from data/lkmpg: kcourse sim [--real] --transcript example_tasklet/script.sh
insmod example_tasklet/example_tasklet.ko
dmesg -c
grep '^example_tasklet ' /proc/modules
rmmod example_tasklet
dmesg -c
