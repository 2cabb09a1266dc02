# devprobe: dev_err and its levels, dev_dbg/pr_debug off by default, mutex_init and
# spin_lock_irqsave's saved flags. Run in a folder holding devprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod devprobe.ko
dmesg | grep -v -e 'taints kernel' -e 'verification failed'
dmesg -C
rmmod devprobe
dmesg
