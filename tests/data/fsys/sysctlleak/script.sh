insmod sysctlleak.ko
cat /proc/sys/sysctlleak/value
rmmod sysctlleak
cat /proc/sys/sysctlleak/value
ls /proc/sys/sysctlleak
cat /proc/filesystems
