# handlerprobe: the guest's mousedev and input-leds handlers make files for the devices they
# connect to. Run in a folder holding handlerprobe.ko: kcourse sim [--real] --transcript script.sh
insmod handlerprobe.ko which=0
ls /sys/class/input /dev/input
rmmod handlerprobe
insmod handlerprobe.ko which=1
ls /sys/class/leds
rmmod handlerprobe
