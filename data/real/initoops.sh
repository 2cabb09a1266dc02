# initoops.ko (data/experiments/initoops): init reads through a NULL pointer.
insmod initoops/initoops.ko
cat /proc/modules
rmmod initoops
cat /proc/sys/kernel/tainted
dmesg | grep -e initoops: -e 'BUG:' -e 'Oops:'
