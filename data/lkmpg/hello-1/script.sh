# hello-1 (LKMPG examples): init_module and cleanup_module, the simplest module.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-1/script.sh
insmod hello-1/hello-1.ko
dmesg -c
grep '^hello_1 ' /proc/modules
rmmod hello_1
dmesg -c
