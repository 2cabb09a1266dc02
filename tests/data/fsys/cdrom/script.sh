ls /proc/sys
ls /proc/sys/dev
modprobe cdrom
dmesg -c
lsmod
cat /proc/modules
ls /sys/module/cdrom
ls /sys/module/cdrom/parameters
ls /proc/sys/dev
ls /proc/sys/dev/cdrom
stat -c '%A %s %F %n' /proc/sys/dev/cdrom /proc/sys/dev/cdrom/info /proc/sys/dev/cdrom/autoclose /proc/sys/dev/cdrom/check_media
cat /proc/sys/dev/cdrom/info
cat /proc/sys/dev/cdrom/autoclose /proc/sys/dev/cdrom/autoeject /proc/sys/dev/cdrom/debug /proc/sys/dev/cdrom/lock /proc/sys/dev/cdrom/check_media
echo 0 > /proc/sys/dev/cdrom/autoclose
cat /proc/sys/dev/cdrom/autoclose
echo 7 > /proc/sys/dev/cdrom/debug
cat /proc/sys/dev/cdrom/debug
echo -5 > /proc/sys/dev/cdrom/autoeject
cat /proc/sys/dev/cdrom/autoeject
echo "  0x10 " > /proc/sys/dev/cdrom/check_media
cat /proc/sys/dev/cdrom/check_media
echo 2147483648 > /proc/sys/dev/cdrom/lock
echo 1 2 > /proc/sys/dev/cdrom/lock
echo x > /proc/sys/dev/cdrom/lock
echo 12a > /proc/sys/dev/cdrom/lock
cat /proc/sys/dev/cdrom/lock
echo 1 > /proc/sys/dev/cdrom/info
head -c 20 /proc/sys/dev/cdrom/info
dmesg -c
rmmod cdrom
dmesg -c
lsmod
ls /proc/sys/dev
cat /proc/sys/dev/cdrom/info
modprobe cdrom autoclose=0 debug=1 check_media_type=1
cat /proc/sys/dev/cdrom/autoclose /proc/sys/dev/cdrom/debug /proc/sys/dev/cdrom/check_media
modprobe -r cdrom
dmesg -c
ls /proc/sys/dev
