# chardev2 (LKMPG examples): a character device at a fixed major (100) with read, write and ioctl (ioctl needs a C program: not here).
# Run from data/lkmpg: kcourse sim [--real] --transcript chardev2/script.sh
insmod chardev2/chardev2.ko
dmesg -c
grep '^chardev2 ' /proc/modules
grep char_dev /proc/devices
cat /dev/char_dev
echo hello chardev2 > /dev/char_dev
cat /dev/char_dev
dmesg -c
rmmod chardev2
dmesg -c
