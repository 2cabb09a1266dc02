# i2cprobe: i2c_transfer on the module's own adapter. Run in a folder holding i2cprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod i2cprobe.ko
dmesg | grep -e 'i2cprobe [a-z]' -e WARNING -e 'Transfer while'
cat /proc/sys/kernel/tainted
rmmod i2cprobe
