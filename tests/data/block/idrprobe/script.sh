# idrprobe: lib/idr.c on the lab machine (its init fails with -ENODEV once it has printed).
# Run in a folder holding idrprobe.ko: kcourse sim [--real] --transcript script.sh
insmod idrprobe.ko
dmesg | grep idrprobe
