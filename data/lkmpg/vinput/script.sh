# vinput (LKMPG examples): a class of virtual input devices, without any device type registered.
# Run from data/lkmpg: kcourse sim [--real] --transcript vinput/script.sh
insmod vinput/vinput.ko
dmesg -c
grep '^vinput ' /proc/modules
ls /sys/class/vinput
echo vkbd > /sys/class/vinput/export
dmesg -c
rmmod vinput
dmesg -c
