# dbgprobe: pr_debug and dev_dbg with DEBUG defined, printed at KERN_DEBUG. Run in a folder
# holding dbgprobe.ko: kcourse sim [--real] --transcript script.sh
insmod dbgprobe.ko
dmesg | grep -v -e 'taints kernel' -e 'verification failed'
dmesg -C
rmmod dbgprobe
dmesg
