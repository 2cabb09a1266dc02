# syscall-steal (LKMPG examples): replacing openat in sys_call_table, found through a kprobe on kallsyms_lookup_name.
# Run from data/lkmpg: kcourse sim [--real] --transcript syscall-steal/script.sh
insmod syscall-steal/syscall-steal.ko uid=0
dmesg -c
grep '^syscall_steal ' /proc/modules
cat /proc/sys/kernel/tainted
cat /proc/version > /dev/null
dmesg -c
rmmod syscall_steal
dmesg -c
