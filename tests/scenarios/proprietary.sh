# A GPL-incompatible licence taints the kernel with P.
insmod proprietary/proprietary.ko
dmesg -c
cat /proc/modules
cat /sys/module/proprietary/taint
cat /proc/sys/kernel/tainted
rmmod proprietary
dmesg -c
cat /proc/sys/kernel/tainted
