# dma (LKMPG examples): a platform device and driver: a coherent DMA buffer and a streaming mapping in probe.
# Run from data/lkmpg: kcourse sim [--real] --transcript dma/script.sh
insmod dma/dma.ko coherent_size=8192
dmesg -c
grep '^dma ' /proc/modules
cat /sys/module/dma/parameters/coherent_size
cat /sys/module/dma/parameters/streaming_size
ls /sys/bus/platform/drivers/lkmpg_dma_demo
rmmod dma
dmesg -c
