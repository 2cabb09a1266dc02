# leakprobe: a module without exit leaves a /proc file, a char device, a sysfs attribute
# and a debugfs file behind when `rmmod -f` takes it away; each use then faults in the
# kernel function that reads the freed module. Only each report's first RIP line is
# compared (the reports hold register values of the run, and after the first oops the kernel
# ends each report with the first one's registers again).
# Run in a folder holding leakprobe.ko: kcourse sim [--real] --transcript script.sh
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
insmod leakprobe.ko
rmmod -f leakprobe
dmesg -C
grep leakprobe /proc/devices
ls /proc/leakprobe /dev/leakprobe /sys/kernel/leakprobe/at /sys/kernel/debug/leakprobe
cat /proc/leakprobe
dmesg -c | grep -o -e 'BUG: unable to handle page fault' -e 'RIP: 0010:[a-z_]*' | head -2
cat /dev/leakprobe
dmesg -c | grep -o -e 'BUG: unable to handle page fault' -e 'RIP: 0010:[a-z_]*' | head -2
cat /sys/kernel/leakprobe/at
dmesg -c | grep -o -e 'BUG: unable to handle page fault' -e 'RIP: 0010:[a-z_]*' | head -2
cat /sys/kernel/debug/leakprobe
dmesg -c | grep -o -e 'BUG: unable to handle page fault' -e 'RIP: 0010:[a-z_]*' | head -2
