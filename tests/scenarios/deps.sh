# Dependencies and holders: consumer.ko uses symbols that provider.ko exports.
insmod consumer/consumer.ko
dmesg -c
insmod provider/provider.ko
insmod consumer/consumer.ko
dmesg -c
lsmod
cat /proc/modules
ls /sys/module/provider/holders
cat /sys/module/provider/refcnt
rmmod provider
rmmod -f provider
rmmod consumer
rmmod provider
modprobe consumer
lsmod
modprobe -r provider
modprobe -r consumer
lsmod
dmesg -c
