# dht11 (LKMPG examples): a DHT11 sensor read through a GPIO (no GPIO controller in the lab's machine).
# Run from data/lkmpg: kcourse sim [--real] --transcript dht11/script.sh
insmod dht11/dht11.ko
dmesg -c
grep '^dht11 ' /proc/modules
ls /sys/class/gpio
