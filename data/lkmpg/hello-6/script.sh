# hello-6 (LKMPG examples): module_param_cb: set and get callbacks, at insmod and through sysfs.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-6/script.sh
insmod hello-6/hello-6.ko watched=7
dmesg -c
grep '^hello_6 ' /proc/modules
cat /sys/module/hello_6/parameters/watched
echo 100 > /sys/module/hello_6/parameters/watched
cat /sys/module/hello_6/parameters/watched
dmesg -c
rmmod hello_6
dmesg -c
