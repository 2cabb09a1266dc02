# dupprobe: the kernel's words for names taken and numbers refused (WARN reports, kernfs
# duplicates, device number ranges). Their register dumps and call traces hold values of the
# run, so only the lines that must agree are compared: the messages, the WARN sites, taint.
# Run in a folder holding dupprobe.ko: kcourse sim [--real] --transcript script.sh
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod dupprobe.ko
dmesg | grep -e dupprobe: -e proc_dir_entry -e "name '" -e "by hand" -e duplicate -e "kobject_add_internal failed" -e "kobject_add error" -e debugfs: -e CHRDEV
dmesg | grep -o 'at [a-z/]*\.c:[0-9]* [a-z_]*'
dmesg | grep -c 'cut here'
cat /proc/sys/kernel/tainted
grep dup /proc/devices
ls /proc/dupdir
dmesg -C
rmmod dupprobe
dmesg
grep dup /proc/devices
