# blkprobe: a blk-mq disk's requests as the block layer hands them to queue_rq, on the lab
# machine. Run in a folder holding blkprobe.ko: kcourse sim [--real] --transcript script.sh
insmod blkprobe.ko bad=1600
dmesg -c
grep -e 'Block devices' -e blkprobe -e blkext /proc/devices
cat /sys/block/blkprobe0/size /sys/block/blkprobe0/dev /sys/block/blkprobe0/ro /sys/block/blkprobe0/removable /sys/block/blkprobe0/range
cat /sys/block/blkprobe0/uevent
ls /sys/block/blkprobe0
echo hello blkprobe | dd of=/dev/blkprobe0 bs=512 conv=sync status=none
dmesg -c
echo abc | dd of=/dev/blkprobe0 bs=4096 conv=sync status=none
dmesg -c
head -c 14 /dev/blkprobe0
dmesg -c
cat /dev/blkprobe0 | wc -c
dmesg -c
grep '^blkprobe ' /proc/modules
rmmod blkprobe
dmesg -c
grep -c blkprobe /proc/devices
