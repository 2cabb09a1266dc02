# bottomhalf (LKMPG examples): an interrupt with a workqueue bottom half, on GPIOs (no GPIO controller in the lab's machine).
# Run from data/lkmpg: kcourse sim [--real] --transcript bottomhalf/script.sh
insmod bottomhalf/bottomhalf.ko
dmesg -c
grep '^bottomhalf ' /proc/modules
ls /sys/class/gpio
