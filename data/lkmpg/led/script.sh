# led (LKMPG examples): a character device driving an LED on a GPIO (no GPIO controller in the lab's machine).
# Run from data/lkmpg: kcourse sim [--real] --transcript led/script.sh
insmod led/led.ko
dmesg -c
grep '^led ' /proc/modules
ls /sys/class/gpio
