insmod netnotify.ko
dmesg -c
ls /proc/net/netnotify
cat /proc/net/netnotify/devices
ls /sys/class/net
echo 1400 > /sys/class/net/nn0/mtu
cat /sys/class/net/nn0/mtu
echo 1400 > /sys/class/net/nn0/mtu
dmesg -c
rmmod netnotify
dmesg -c
ls /proc/net/netnotify
