# libprobe: memcmp, kmemdup, kstrdup and the find_bit family. Run in a folder holding
# libprobe.ko: kcourse sim [--real] --transcript script.sh
insmod libprobe.ko
dmesg | grep 'libprobe [a-z]'
rmmod libprobe
