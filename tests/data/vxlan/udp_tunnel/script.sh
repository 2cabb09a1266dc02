modprobe udp_tunnel
lsmod
cat /proc/modules
ls /sys/module/udp_tunnel
ls /sys/module/udp_tunnel/holders
cat /sys/module/udp_tunnel/refcnt /sys/module/udp_tunnel/initstate
ls /sys/class/net
dmesg -c
modprobe -r udp_tunnel
lsmod
ls /sys/module/udp_tunnel
dmesg -c
modprobe udp_tunnel
modprobe udp_tunnel
rmmod udp_tunnel
modprobe udp_tunnel
rmmod udp_tunnel
dmesg -c
