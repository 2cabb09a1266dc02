# ioctl (LKMPG examples): a cdev with ioctl and read; its node made by hand with mknod.
# Run from data/lkmpg: kcourse sim [--real] --transcript ioctl/script.sh
insmod ioctl/ioctl.ko
dmesg -c
grep '^ioctl ' /proc/modules
grep ioctltest /proc/devices
mknod /dev/ioctltest c $(awk '$2 == "ioctltest" {print $1}' /proc/devices) 0
head -c 4 /dev/ioctltest | od -An -tx1
dmesg -c
rm /dev/ioctltest
rmmod ioctl
dmesg -c
