insmod netnotify.ko
dmesg -c
ls /proc/net/netnotify
cat /proc/net/netnotify/devices
ls /sys/class/net
rmmod netnotify
dmesg -c
ls /proc/net/netnotify
