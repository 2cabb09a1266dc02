# static_key (LKMPG examples): a static key switched on and off through a character device.
# Run from data/lkmpg: kcourse sim [--real] --transcript static_key/script.sh
insmod static_key/static_key.ko
dmesg -c
grep '^static_key ' /proc/modules
cat /dev/key_state
echo enable > /dev/key_state
cat /dev/key_state
echo disable > /dev/key_state
cat /dev/key_state
echo bogus > /dev/key_state
dmesg -c
rmmod static_key
dmesg -c
