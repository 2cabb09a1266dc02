modprobe vxlan
lsmod
cat /proc/modules
ls /sys/module/vxlan
ls /sys/module/vxlan/holders
ls /sys/module/udp_tunnel/holders
ls /sys/module/ip6_udp_tunnel/holders
cat /sys/module/vxlan/refcnt /sys/module/udp_tunnel/refcnt /sys/module/ip6_udp_tunnel/refcnt
cat /sys/module/vxlan/version /sys/module/vxlan/initstate
ls -l /sys/module/vxlan/parameters
cat /sys/module/vxlan/parameters/udp_port /sys/module/vxlan/parameters/log_ecn_error
ls /sys/class/net
dmesg -c
rmmod udp_tunnel
rmmod ip6_udp_tunnel
modprobe -r vxlan
lsmod
ls /sys/module/vxlan
ls /sys/module/udp_tunnel
dmesg -c
modprobe vxlan
rmmod vxlan
lsmod
modprobe vxlan
modprobe -r vxlan
dmesg -c
lsmod
