insmod netprobe.ko
dmesg -c
ls /sys/class/net
cat /sys/class/net/np0/mtu /sys/class/net/np1/mtu /sys/class/net/np0/address /sys/class/net/np0/broadcast /sys/class/net/np0/addr_assign_type /sys/class/net/np0/flags /sys/class/net/np0/type /sys/class/net/np0/ifindex /sys/class/net/np1/ifindex /sys/class/net/np0/iflink /sys/class/net/np0/name_assign_type /sys/class/net/np0/tx_queue_len /sys/class/net/np0/carrier_changes /sys/class/net/np0/carrier_up_count /sys/class/net/np0/carrier_down_count /sys/class/net/np0/dev_id /sys/class/net/np0/dev_port /sys/class/net/np0/link_mode /sys/class/net/np0/netdev_group /sys/class/net/np0/proto_down /sys/class/net/np0/threaded /sys/class/net/np0/gro_flush_timeout /sys/class/net/np0/napi_defer_hard_irqs /sys/class/net/np0/operstate
cat /sys/class/net/np0/ifalias
cat /sys/class/net/np0/speed
cat /sys/class/net/np0/dormant
cat /sys/class/net/np0/phys_port_id
cat /sys/class/net/np0/uevent
echo 1400 > /sys/class/net/np0/mtu
ls /sys/class/net/np0/statistics
cat /sys/class/net/np0/statistics/rx_errors /sys/class/net/np0/statistics/tx_dropped /sys/class/net/np0/statistics/rx_packets
cat /sys/class/net/np1/statistics/tx_packets /sys/class/net/np1/statistics/rx_bytes /sys/class/net/np1/statistics/collisions /sys/class/net/np1/statistics/collisions /sys/class/net/np1/statistics/tx_errors
cat /sys/class/net/lo/statistics/rx_packets /sys/class/net/lo/statistics/tx_bytes
grep '^netprobe ' /proc/modules
rmmod netprobe
dmesg -c
ls /sys/class/net
