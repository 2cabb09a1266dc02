# fsprobe: /proc, seq_file, char devices, sysfs and debugfs as a module's own code serves them.
# Run in a folder holding fsprobe.ko: kcourse sim [--real] --transcript script.sh
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod fsprobe.ko
dmesg -c
grep fsprobe /proc/devices
cat /proc/fsprobe_big | wc -c
cat /proc/fsprobe_big | head -3
cat /proc/fsprobe_big | tail -2
cat /proc/fsprobe_big | grep -c 0123456789
cat /proc/fsprobe_buggy
dmesg -c
cat /proc/fsprobe_ro
echo x > /proc/fsprobe_ro
cat /proc/fsprobe_wo
echo hello > /proc/fsprobe_wo
cat /proc/fsprobe_dir/single
ls /proc/fsprobe_dir
exec 3</proc/fsprobe_rel
grep '^fsprobe ' /proc/modules
exec 4</dev/fsprobe1
grep '^fsprobe ' /proc/modules
exec 4<&-
grep '^fsprobe ' /proc/modules
cat /dev/fsprobe0
cat /dev/fsprobe1
cat /dev/fsprobe_b
cat /dev/fsprobe_nocdev
cat /sys/class/fsprobe/fsprobe1/dev
cat /sys/class/fsprobe/fsprobe_b/uevent
dmesg -c
ls /sys/kernel/fsprobe /sys/kernel/fsprobe/grp
cat /sys/kernel/fsprobe/grp/a
echo 42 > /sys/kernel/fsprobe/grp/a
cat /sys/kernel/fsprobe/grp/a
echo nonsense > /sys/kernel/fsprobe/grp/a
cat /sys/kernel/fsprobe/grp/b
echo 1 > /sys/kernel/fsprobe/grp/b
cat /sys/kernel/fsprobe/grp/c
echo hi > /sys/kernel/fsprobe/grp/c
ls /sys/kernel/debug/fsprobe
cat /sys/kernel/debug/fsprobe/u32 /sys/kernel/debug/fsprobe/x32 /sys/kernel/debug/fsprobe/bool
cat /sys/kernel/debug/fsprobe/u8
echo 0x10 > /sys/kernel/debug/fsprobe/u32
echo nope > /sys/kernel/debug/fsprobe/x32
echo off > /sys/kernel/debug/fsprobe/bool
echo 1 > /sys/kernel/debug/fsprobe/u8
cat /sys/kernel/debug/fsprobe/u32 /sys/kernel/debug/fsprobe/bool
dmesg -c
rmmod fsprobe
dmesg -c
exec 3<&-
ls /proc/fsprobe_big /dev/fsprobe0 /sys/kernel/fsprobe /sys/kernel/debug/fsprobe
grep fsprobe /proc/devices
