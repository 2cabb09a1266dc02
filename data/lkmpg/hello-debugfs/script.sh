# hello-debugfs (LKMPG examples): debugfs_create_u32 and debugfs_create_bool over module parameters.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-debugfs/script.sh
# debugfs is mounted at boot on Debian (systemd's sys-kernel-debug.mount), not in the lab's guest.
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod hello-debugfs/hello-debugfs.ko debug_value=5
dmesg -c
grep '^hello_debugfs ' /proc/modules
ls /sys/kernel/debug/lkmpg_debugfs
cat /sys/kernel/debug/lkmpg_debugfs/debug_value
cat /sys/kernel/debug/lkmpg_debugfs/debug_enabled
echo 7 > /sys/kernel/debug/lkmpg_debugfs/debug_value
echo N > /sys/kernel/debug/lkmpg_debugfs/debug_enabled
cat /sys/module/hello_debugfs/parameters/debug_value
cat /sys/module/hello_debugfs/parameters/debug_enabled
rmmod hello_debugfs
dmesg -c
ls /sys/kernel/debug/lkmpg_debugfs
