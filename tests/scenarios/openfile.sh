# An open file on a module's device holds a reference: refcnt is not "number of users".
insmod kcdev/kcdev.ko
lsmod
exec 3</dev/kcdev
lsmod
cat /sys/module/kcdev/refcnt
ls /sys/module/kcdev/holders
rmmod kcdev
cat /dev/kcdev
exec 3<&-
cat /sys/module/kcdev/refcnt
rmmod kcdev
dmesg -c
