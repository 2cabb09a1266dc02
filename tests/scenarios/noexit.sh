# A module without module_exit() cannot be removed, except by force.
insmod noexit/noexit.ko
cat /proc/modules
lsmod
rmmod noexit
modprobe -r noexit
cat /proc/sys/kernel/tainted
rmmod -f noexit
lsmod
cat /proc/sys/kernel/tainted
dmesg -c
