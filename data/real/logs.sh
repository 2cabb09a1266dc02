# dmesg reads the kernel's ring buffer (/dev/kmsg); -x shows each record's facility and level.
insmod hello/hello.ko
echo 'mydaemon: started' > /dev/kmsg
dmesg -x
