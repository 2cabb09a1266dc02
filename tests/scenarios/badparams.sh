# Unknown and invalid module parameters.
insmod hello/hello.ko nosuch=1
dmesg -c
cat /sys/module/hello/parameters/count
rmmod hello
insmod hello/hello.ko count=many
dmesg -c
lsmod
modprobe hello count=many
modprobe hello nosuch=1
dmesg -c
rmmod hello
