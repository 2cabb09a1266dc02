# busprobe: PCI and I2C driver registration. Run in a folder holding busprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod busprobe.ko
dmesg | grep -v -e 'taints kernel' -e 'verification failed'
dmesg -C
ls /sys/bus/pci/drivers/kcpci
ls /sys/bus/i2c/drivers/kci2c
ls /sys/module/busprobe/drivers
rmmod busprobe
dmesg
ls /sys/bus/pci/drivers/kcpci
