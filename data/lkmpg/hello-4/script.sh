# hello-4 (LKMPG examples): MODULE_AUTHOR and MODULE_DESCRIPTION, read back with modinfo.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-4/script.sh
modinfo -F author hello-4/hello-4.ko
modinfo -F description hello-4/hello-4.ko
insmod hello-4/hello-4.ko
dmesg -c
grep '^hello_4 ' /proc/modules
rmmod hello_4
dmesg -c
