# platprobe: platform devices and drivers, devres, DMA. Run in a folder holding platprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod platprobe.ko
dmesg | grep -v -e 'taints kernel' -e 'verification failed'
dmesg -C
ls /sys/bus/platform/drivers/kcplat
ls /sys/bus/platform/devices/kcplat.3
cat /sys/bus/platform/devices/kcplat.3/uevent
cat /sys/bus/platform/devices/kcplat.3/modalias
cat /sys/bus/platform/devices/kcplat.0.auto/uevent
cat /sys/bus/platform/devices/kcplat.2/uevent
ls /sys/devices/platform/kcplat.3
ls /sys/module/platprobe
ls /sys/module/platprobe/drivers
rmmod platprobe
dmesg
ls /sys/bus/platform/devices/kcplat.3
