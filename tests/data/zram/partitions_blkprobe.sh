# /proc/partitions with a disk that has a size (tests/data/block/blkprobe: 1 MiB) beside
# zram's of size 0. Run in a folder holding blkprobe.ko:
# kcourse sim [--real] --transcript partitions_blkprobe.sh
insmod blkprobe.ko
cat /proc/partitions
modprobe zram
cat /proc/partitions
grep -e blkprobe -e zram /proc/devices
rmmod blkprobe
cat /proc/partitions
rmmod zram
