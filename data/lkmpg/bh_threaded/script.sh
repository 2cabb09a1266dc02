# bh_threaded (LKMPG examples): a threaded interrupt on GPIOs (no GPIO controller in the lab's machine).
# Run from data/lkmpg: kcourse sim [--real] --transcript bh_threaded/script.sh
insmod bh_threaded/bh_threaded.ko
dmesg -c
grep '^bh_threaded ' /proc/modules
ls /sys/class/gpio
