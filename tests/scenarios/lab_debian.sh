# Debian's own modules (signed, in-tree), loaded with modprobe and their dependencies.
modprobe 8021q
lsmod
cat /sys/module/8021q/refcnt
ls /sys/module/llc/holders
cat /sys/module/8021q/taint
cat /proc/sys/kernel/tainted
rmmod llc
modprobe -r 8021q
lsmod
modprobe -r stp
modprobe vxlan
lsmod
modprobe -r vxlan
modprobe dummy
lsmod
rmmod dummy
modprobe nosuchmodule
insmod /lib/modules/$(uname -r)/kernel/drivers/net/dummy.ko
rmmod dummy
dmesg -c
cat /proc/modules
