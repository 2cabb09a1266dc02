# hello-sysfs (LKMPG examples): a kobject under /sys/kernel with one attribute.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-sysfs/script.sh
insmod hello-sysfs/hello-sysfs.ko
dmesg -c
grep '^hello_sysfs ' /proc/modules
ls /sys/kernel/mymodule
cat /sys/kernel/mymodule/myvariable
echo 32 > /sys/kernel/mymodule/myvariable
cat /sys/kernel/mymodule/myvariable
rmmod hello_sysfs
dmesg -c
ls /sys/kernel/mymodule
