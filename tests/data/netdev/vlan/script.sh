ls /proc/net/vlan
modprobe 8021q
dmesg -c
lsmod
cat /proc/modules
ls /proc/net/vlan
stat -c '%A %s %U %G' /proc/net/vlan /proc/net/vlan/config
cat /proc/net/vlan/config
modprobe dummy
ls /sys/class/net
cat /proc/net/vlan/config
cat /sys/module/8021q/refcnt
rmmod 8021q
rmmod 8021q
dmesg -c
ls /proc/net/vlan
cat /sys/class/net/dummy0/ifindex
rmmod dummy
modprobe 8021q
cat /proc/net/vlan/config
modprobe -r 8021q
dmesg -c
lsmod
