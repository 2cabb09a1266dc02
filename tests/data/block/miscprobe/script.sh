# miscprobe: misc_register minors on the lab machine. Run in a folder holding miscprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod miscprobe.ko
dmesg | grep miscprobe
cat /proc/misc
rmmod miscprobe
