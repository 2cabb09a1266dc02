# print_string (LKMPG examples): writing to the current tty (the lab's shell has none).
# Run from data/lkmpg: kcourse sim [--real] --transcript print_string/script.sh
insmod print_string/print_string.ko
dmesg -c
grep '^print_string ' /proc/modules
rmmod print_string
dmesg -c
