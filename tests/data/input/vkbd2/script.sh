# vkbd2: vkbd exported twice, removed while exported, then vinput. Run from data/lkmpg:
# kcourse sim [--real] --transcript ../../tests/data/input/vkbd2/script.sh
insmod vinput/vinput.ko
insmod vkbd/vkbd.ko
echo vkbd > /sys/class/vinput/export
echo vkbd > /sys/class/vinput/export
ls /sys/class/vinput /sys/class/input
rmmod vkbd
ls /sys/class/vinput /sys/class/input
echo vkbd > /sys/class/vinput/export
rmmod vinput
dmesg
