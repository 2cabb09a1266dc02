# Debian's zsmalloc and zram on the lab machine: what their own init and exit make.
# Run anywhere: kcourse sim [--real] --transcript script.sh
modprobe zsmalloc
dmesg -c
lsmod
grep zsmalloc /proc/modules
rmmod zsmalloc
dmesg -c
modprobe zram
dmesg -c
lsmod
ls /sys/block
ls /sys/block/zram0
cat /sys/block/zram0/disksize /sys/block/zram0/comp_algorithm
cat /sys/block/zram0/size /sys/block/zram0/dev /sys/block/zram0/ro /sys/block/zram0/removable /sys/block/zram0/range
cat /sys/block/zram0/initstate /sys/block/zram0/mem_limit /sys/block/zram0/max_comp_streams
cat /sys/block/zram0/mm_stat /sys/block/zram0/io_stat /sys/block/zram0/bd_stat /sys/block/zram0/debug_stat
cat /sys/block/zram0/backing_dev /sys/block/zram0/writeback_limit /sys/block/zram0/writeback_limit_enable
ls -l /dev/zram0
stat -c '%F %a %t %T' /dev/zram0
grep -e 'Block devices' -e zram /proc/devices
ls /sys/class/zram-control
ls -l /sys/class/zram-control
cat /sys/class/zram-control/hot_add
dmesg -c
ls /sys/block
echo 1 > /sys/class/zram-control/hot_remove
dmesg -c
echo 5 > /sys/class/zram-control/hot_remove
ls /sys/block
head -c 10 /dev/zram0 | wc -c
rmmod zram
dmesg -c
ls /sys/block
grep -c zram /proc/devices
ls /sys/class/zram-control
lsmod
modprobe zram num_devices=2
dmesg -c
ls /sys/block
cat /sys/block/zram1/dev
modprobe -r zram
dmesg -c
lsmod
