# procfs2 (LKMPG examples): a /proc file with read and write handlers.
# Run from data/lkmpg: kcourse sim [--real] --transcript procfs2/script.sh
insmod procfs2/procfs2.ko
dmesg -c
grep '^procfs2 ' /proc/modules
echo hello procfs2 > /proc/buffer1k
dmesg -c
cat /proc/buffer1k
dmesg -c
rmmod procfs2
dmesg -c
