# procfs1 (LKMPG examples): a /proc file with a read handler (it returns 13 bytes: the string and its NUL).
# Run from data/lkmpg: kcourse sim [--real] --transcript procfs1/script.sh
insmod procfs1/procfs1.ko
dmesg -c
grep '^procfs1 ' /proc/modules
cat /proc/helloworld
dmesg -c
rmmod procfs1
dmesg -c
ls /proc/helloworld
