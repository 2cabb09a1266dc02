# baduser.ko's write() reads the user buffer straight through its pointer (SMAP: an oops).
insmod baduser/baduser.ko
echo hi | cat > /dev/baduser
dmesg
