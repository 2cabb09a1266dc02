# nlsprobe: __register_nls and unregister_nls. Run in a folder holding nlsprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod nlsprobe.ko
dmesg | grep 'nlsprobe [a-z]'
dmesg -C
rmmod nlsprobe
dmesg
