# intrpt (LKMPG examples): GPIO buttons as interrupts (the lab's machine has no GPIO controller).
# Run from data/lkmpg: kcourse sim [--real] --transcript intrpt/script.sh
insmod intrpt/intrpt.ko
dmesg -c
grep '^intrpt ' /proc/modules
ls /sys/class/gpio
