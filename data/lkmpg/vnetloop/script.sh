# vnetloop (LKMPG examples): a net_device that loops every packet back.
# Run from data/lkmpg: kcourse sim [--real] --transcript vnetloop/script.sh
insmod vnetloop/vnetloop.ko
dmesg -c
grep '^vnetloop ' /proc/modules
ls /sys/class/net
cat /sys/class/net/vnetloop0/mtu
cat /sys/class/net/vnetloop0/operstate
rmmod vnetloop
dmesg -c
ls /sys/class/net
