# procfs3 (LKMPG examples): a /proc file whose size and owner are set with proc_set_size and proc_set_user.
# Run from data/lkmpg: kcourse sim [--real] --transcript procfs3/script.sh
insmod procfs3/procfs3.ko
dmesg -c
grep '^procfs3 ' /proc/modules
stat -c '%n %s %a %U:%G' /proc/buffer2k
cat /proc/buffer2k
echo hello procfs3 > /proc/buffer2k
cat /proc/buffer2k
cat /proc/buffer2k
rmmod procfs3
dmesg -c
