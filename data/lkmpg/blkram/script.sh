# blkram (LKMPG examples): a blk-mq RAM disk.
# Run from data/lkmpg: kcourse sim [--real] --transcript blkram/script.sh
insmod blkram/blkram.ko blkram_mb=4
dmesg -c
grep '^blkram ' /proc/modules
grep blkram /proc/devices
cat /sys/block/blkram0/size
echo hello blkram | dd of=/dev/blkram0 bs=512 conv=sync status=none
head -c 13 /dev/blkram0
rmmod blkram
dmesg -c
