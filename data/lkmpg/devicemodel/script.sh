# devicemodel (LKMPG examples): a platform driver with power-management callbacks (no matching device: no probe).
# Run from data/lkmpg: kcourse sim [--real] --transcript devicemodel/script.sh
insmod devicemodel/devicemodel.ko
dmesg -c
grep '^devicemodel ' /proc/modules
ls /sys/bus/platform/drivers/devicemodel_example
rmmod devicemodel
dmesg -c
ls /sys/bus/platform/drivers/devicemodel_example
