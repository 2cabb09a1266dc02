# jlprobe: static keys (kernel/jump_label.c). Run in a folder holding jlprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod jlprobe.ko
dmesg | grep -e 'jlprobe [a-z]' -e WARNING
cat /proc/sys/kernel/tainted
dmesg -C
rmmod jlprobe
dmesg
