# zram devices in use (/dev/zram1 held open), hot_add after a hot_remove, bad input.
# Run anywhere: kcourse sim --real --transcript busy.sh
modprobe zram num_devices=2
exec 3< /dev/zram1
echo 1 > /sys/class/zram-control/hot_remove
echo 1 > /sys/block/zram1/reset
rmmod zram
exec 3<&-
echo 1 > /sys/class/zram-control/hot_remove
echo 0 > /sys/block/zram0/reset
echo 1 > /sys/block/zram0/reset
cat /sys/class/zram-control/hot_add
cat /sys/class/zram-control/hot_add
ls /sys/block
echo -1 > /sys/class/zram-control/hot_remove
echo x > /sys/class/zram-control/hot_remove
rmmod zram
dmesg -c
