# Loading a module twice, and removing one that is not there.
insmod hello/hello.ko
insmod hello/hello.ko
modprobe hello
modprobe --first-time hello
lsmod
rmmod hello
rmmod hello
modprobe -r hello
modprobe -r --first-time hello
dmesg -c
