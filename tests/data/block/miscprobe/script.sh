# miscprobe: misc_register minors on the lab machine. Run in a folder holding miscprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod miscprobe.ko
dmesg | grep -e 'miscprobe ' -e 'sysfs:' -e 'kobject_add_internal failed'
cat /proc/misc
rmmod miscprobe
