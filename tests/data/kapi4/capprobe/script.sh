# capprobe: capable() for root. Run in a folder holding capprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod capprobe.ko
dmesg | grep 'capprobe [0-9]'
cat /proc/capprobe
rmmod capprobe
