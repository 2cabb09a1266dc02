# startstop (LKMPG examples): one module built from two files, start.c and stop.c.
# Run from data/lkmpg: kcourse sim [--real] --transcript startstop/script.sh
insmod startstop/startstop.ko
dmesg -c
grep '^startstop ' /proc/modules
rmmod startstop
dmesg -c
