# /proc/partitions (block/genhd.c show_partition) with no disk, with zram's disks of size 0,
# and with loop's. Run anywhere: kcourse sim --real --transcript partitions.sh
cat /proc/partitions
modprobe zram num_devices=2
cat /proc/partitions
modprobe loop
cat /proc/partitions
rmmod zram loop
cat /proc/partitions
