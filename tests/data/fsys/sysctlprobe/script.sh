insmod sysctlprobe.ko
dmesg -c
ls /proc/sys
ls /proc/sys/kcourse
ls /proc/sys/kcourse/probe
ls /proc/sys/kcourse/probe2
stat -c '%A %n' /proc/sys/kcourse /proc/sys/kcourse/probe/values /proc/sys/kcourse/probe/ro
cat /proc/filesystems
cat /proc/sys/kcourse/probe/values /proc/sys/kcourse/probe/name /proc/sys/kcourse/probe/ro
head -c 5 /proc/sys/kcourse/probe/values
echo 1 2 3 4 > /proc/sys/kcourse/probe/values
cat /proc/sys/kcourse/probe/values
echo -2147483648 > /proc/sys/kcourse/probe/values
cat /proc/sys/kcourse/probe/values
echo -2147483649 > /proc/sys/kcourse/probe/values
echo > /proc/sys/kcourse/probe/values
echo 5,6 > /proc/sys/kcourse/probe/values
cat /proc/sys/kcourse/probe/values
echo a long name of more than sixteen bytes > /proc/sys/kcourse/probe/name
cat /proc/sys/kcourse/probe/name
echo -n > /proc/sys/kcourse/probe/name
cat /proc/sys/kcourse/probe/name
echo -n two > /proc/sys/kcourse/probe/name
cat /proc/sys/kcourse/probe/name
echo 9 > /proc/sys/kcourse/probe/ro
dmesg -c
rmmod sysctlprobe
dmesg -c
ls /proc/sys
cat /proc/filesystems
