# Loading a module with parameters, then reading and writing them through sysfs.
insmod hello/hello.ko whom=kernel count=3
dmesg -c
cat /sys/module/hello/parameters/whom
cat /sys/module/hello/parameters/count
ls /sys/module/hello/parameters
ls /sys/module/hello
cat /sys/module/hello/initstate
cat /sys/module/hello/refcnt
cat /sys/module/hello/taint
echo students > /sys/module/hello/parameters/whom
cat /sys/module/hello/parameters/whom
echo -n students > /sys/module/hello/parameters/whom
cat /sys/module/hello/parameters/whom
echo 5 > /sys/module/hello/parameters/count
cat /proc/modules
lsmod
cat /proc/sys/kernel/tainted
rmmod hello
dmesg -c
lsmod
