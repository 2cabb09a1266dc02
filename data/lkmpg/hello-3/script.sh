# hello-3 (LKMPG examples): __init, __initdata and __exit.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-3/script.sh
insmod hello-3/hello-3.ko
dmesg -c
grep '^hello_3 ' /proc/modules
rmmod hello_3
dmesg -c
