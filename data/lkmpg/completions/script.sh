# completions (LKMPG examples): two kernel threads ordered with completions.
# Run from data/lkmpg: kcourse sim [--real] --transcript completions/script.sh
insmod completions/completions.ko
sleep 1
dmesg -c
grep '^completions ' /proc/modules
rmmod completions
dmesg -c
