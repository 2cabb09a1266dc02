insmod kcdev/kcdev.ko
ls -l /dev/kcdev /dev/null /dev/loop0
ls -l /dev/null
stat -c '%F %t %T %a %U %G' /dev/kcdev /dev/null /dev/loop0
rmmod kcdev
modprobe loop
ls -l /dev/loop0 /dev/loop7 /dev/loop-control /dev/null
stat -c '%n %F %t %T' /dev/loop7 /dev/loop-control
rmmod loop
