# inputprobe: input devices allocated, registered, fed events, freed. Run in a folder holding
# inputprobe.ko: kcourse sim [--real] --transcript script.sh
insmod inputprobe.ko
dmesg | grep -e inputprobe -e 'input:' -e 'input input'
cat /sys/class/input/input2/name /sys/class/input/input2/phys /sys/class/input/input2/uniq
cat /sys/class/input/input4/name
cat /sys/class/input/input2/uevent
ls /sys/class/input/input3
rmmod inputprobe
dmesg | grep -e 'inputprobe exit'
ls /sys/class/input/input2
