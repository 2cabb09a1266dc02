ls /sys/class/net
ls /sys/class/net/lo
cat /sys/class/net/lo/mtu /sys/class/net/lo/operstate /sys/class/net/lo/flags /sys/class/net/lo/type /sys/class/net/lo/ifindex /sys/class/net/lo/address /sys/class/net/lo/tx_queue_len /sys/class/net/lo/addr_len
readlink /sys/class/net/lo
modprobe dummy numdummies=2
dmesg -c
ls /sys/class/net
ls /sys/class/net/dummy0
cat /sys/class/net/dummy0/mtu /sys/class/net/dummy0/operstate /sys/class/net/dummy0/flags /sys/class/net/dummy0/type /sys/class/net/dummy0/ifindex /sys/class/net/dummy1/ifindex /sys/class/net/dummy0/addr_len /sys/class/net/dummy0/addr_assign_type /sys/class/net/dummy0/broadcast /sys/class/net/dummy0/tx_queue_len /sys/class/net/dummy0/iflink /sys/class/net/dummy0/name_assign_type /sys/class/net/dummy0/dev_id /sys/class/net/dummy0/link_mode
cat /sys/class/net/dummy0/carrier
cat /sys/class/net/dummy0/uevent
readlink /sys/class/net/dummy0
cat /sys/class/net/dummy0/address
cat /sys/class/net/dummy0/statistics/tx_packets /sys/class/net/dummy1/statistics/rx_bytes
lsmod
rmmod dummy
dmesg -c
ls /sys/class/net
modprobe dummy
ls /sys/class/net
cat /sys/class/net/dummy0/ifindex
rmmod dummy
modprobe llc
lsmod
rmmod llc
modprobe stp
lsmod
rmmod stp llc
dmesg -c
