# rmmod -f only changes anything when the kernel would refuse.
insmod hello/hello.ko
rmmod -f hello
cat /proc/sys/kernel/tainted
dmesg -c
