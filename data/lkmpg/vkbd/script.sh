# vkbd (LKMPG examples): a virtual keyboard on vinput: export one, press and release a key.
# Run from data/lkmpg: kcourse sim [--real] --transcript vkbd/script.sh
insmod vinput/vinput.ko
insmod vkbd/vkbd.ko
dmesg -c
grep -e '^vkbd ' -e '^vinput ' /proc/modules
echo vkbd > /sys/class/vinput/export
ls /sys/class/vinput
ls /dev/vinput0
echo +34 > /dev/vinput0
cat /dev/vinput0
echo -34 > /dev/vinput0
dmesg -c
rmmod vinput
echo 0 > /sys/class/vinput/unexport
rmmod vkbd
rmmod vinput
dmesg -c
