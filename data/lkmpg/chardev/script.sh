# chardev (LKMPG examples): a read-only character device that counts its readers.
# Run from data/lkmpg: kcourse sim [--real] --transcript chardev/script.sh
insmod chardev/chardev.ko
dmesg -c
grep '^chardev ' /proc/modules
grep chardev /proc/devices
ls /dev/chardev
cat /dev/chardev
cat /dev/chardev
echo hi > /dev/chardev
dmesg -c
rmmod chardev
dmesg -c
ls /dev/chardev
