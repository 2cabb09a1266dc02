modprobe ip6_udp_tunnel
lsmod
cat /proc/modules
ls /sys/module/ip6_udp_tunnel
ls /sys/module/ip6_udp_tunnel/holders
cat /sys/module/ip6_udp_tunnel/refcnt /sys/module/ip6_udp_tunnel/initstate
dmesg -c
rmmod ip6_udp_tunnel
lsmod
ls /sys/module/ip6_udp_tunnel
dmesg -c
modprobe ip6_udp_tunnel
rmmod ip6_udp_tunnel
rmmod ip6_udp_tunnel
dmesg -c
