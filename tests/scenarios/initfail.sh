# A module whose init function fails never becomes LIVE.
insmod failinit/failinit.ko
dmesg -c
lsmod
cat /proc/modules
ls /sys/module/failinit
modprobe failinit
dmesg -c
