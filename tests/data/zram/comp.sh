# zram's sysfs files before the disk has a size, and comp_algorithm against the crypto
# API of the lab's kernel (tests/data/zram/crypto.expected: what it has built in).
# Run anywhere: kcourse sim --real --transcript comp.sh
modprobe zram
cat /sys/block/zram0/comp_algorithm
echo lzo > /sys/block/zram0/comp_algorithm
cat /sys/block/zram0/comp_algorithm
echo deflate-generic > /sys/block/zram0/comp_algorithm
cat /sys/block/zram0/comp_algorithm
echo deflate > /sys/block/zram0/comp_algorithm
cat /sys/block/zram0/comp_algorithm
echo nosuch > /sys/block/zram0/comp_algorithm
echo aes > /sys/block/zram0/comp_algorithm
cat /sys/block/zram0/comp_algorithm
echo 0 > /sys/block/zram0/disksize
cat /sys/block/zram0/disksize
echo 1 > /sys/block/zram0/reset
echo 2 > /sys/block/zram0/max_comp_streams
cat /sys/block/zram0/max_comp_streams
echo 1 > /sys/block/zram0/compact
echo all > /sys/block/zram0/idle
echo 1 > /sys/block/zram0/writeback_limit_enable
cat /sys/block/zram0/writeback_limit_enable
echo 100 > /sys/block/zram0/writeback_limit
cat /sys/block/zram0/writeback_limit
echo 64M > /sys/block/zram0/mem_limit
echo 0 > /sys/block/zram0/mem_used_max
rmmod zram
dmesg -c
