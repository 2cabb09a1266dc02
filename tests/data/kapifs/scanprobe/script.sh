# scanprobe: the kernel's sscanf on a table of cases; init prints each and refuses the load.
# Run in a folder holding scanprobe.ko: kcourse sim [--real] --transcript script.sh
insmod scanprobe.ko
dmesg -c
