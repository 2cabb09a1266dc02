# procfs4 (LKMPG examples): a /proc file through seq_file (each open shows the next value of a counter).
# Run from data/lkmpg: kcourse sim [--real] --transcript procfs4/script.sh
insmod procfs4/procfs4.ko
dmesg -c
grep '^procfs4 ' /proc/modules
cat /proc/iter
cat /proc/iter
cat /proc/iter
rmmod procfs4
dmesg -c
