# devicetree (LKMPG examples): a platform driver matched from the device tree (no device tree on x86, so no probe).
# Run from data/lkmpg: kcourse sim [--real] --transcript devicetree/script.sh
insmod devicetree/devicetree.ko
dmesg -c
grep '^devicetree ' /proc/modules
rmmod devicetree
dmesg -c
