# Debian's loop on the lab machine: what its own init and exit make. Run anywhere:
# kcourse sim [--real] --transcript loop.sh
modprobe loop
dmesg -c
grep -e 'Block devices' -e loop /proc/devices
grep loop /proc/misc
ls /sys/block
cat /sys/block/loop0/size /sys/block/loop0/dev /sys/block/loop7/dev /sys/block/loop0/ro /sys/block/loop0/removable /sys/block/loop0/range
stat -c '%F %a' /dev/loop0 /dev/loop-control
head -c 10 /dev/loop0 | wc -c
grep '^loop ' /proc/modules
rmmod loop
dmesg -c
ls /sys/block
grep -c loop /proc/devices
