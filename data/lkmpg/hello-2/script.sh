# hello-2 (LKMPG examples): module_init and module_exit.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-2/script.sh
insmod hello-2/hello-2.ko
dmesg -c
grep '^hello_2 ' /proc/modules
rmmod hello_2
dmesg -c
