# hello-debugfs-file (LKMPG examples): a debugfs file with its own file_operations, and a blob.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-debugfs-file/script.sh
# debugfs is mounted at boot on Debian (systemd's sys-kernel-debug.mount), not in the lab's guest.
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod hello-debugfs-file/hello-debugfs-file.ko
dmesg -c
grep '^hello_debugfs_file ' /proc/modules
ls /sys/kernel/debug/lkmpg_debugfs_file
cat /sys/kernel/debug/lkmpg_debugfs_file/message
echo a new message > /sys/kernel/debug/lkmpg_debugfs_file/message
cat /sys/kernel/debug/lkmpg_debugfs_file/message
cat /sys/kernel/debug/lkmpg_debugfs_file/blob
rmmod hello_debugfs_file
dmesg -c
