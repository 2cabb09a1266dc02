# sleep (LKMPG examples): a /proc file one process at a time: a second opener sleeps, or gets EAGAIN with O_NONBLOCK.
# The background cat is started without fd 3 (3<&-): it would otherwise hold the file open
# itself and wait for ever.
# Run from data/lkmpg: kcourse sim [--real] --transcript sleep/script.sh
insmod sleep/sleep.ko
dmesg -c
grep '^sleep ' /proc/modules
cat /proc/sleep
echo hello sleep > /proc/sleep
cat /proc/sleep
exec 3</proc/sleep
dd if=/proc/sleep iflag=nonblock status=none
cat /proc/sleep 3<&- > /tmp/sleep.out &
sleep 1
cat /tmp/sleep.out
exec 3<&-
wait
cat /tmp/sleep.out
rmmod sleep
dmesg -c
