# warnprobe: __warn_printk, refcount_warn_saturate, ___ratelimit, __rcu_read_lock/unlock.
# Run in a folder holding warnprobe.ko: kcourse sim [--real] --transcript script.sh
insmod warnprobe.ko
dmesg | grep -e 'warnprobe [a-z]' -e WARNING -e 'cut here' -e 'refcount_t' -e 'callbacks suppressed' -e 'end trace'
cat /proc/sys/kernel/tainted
rmmod warnprobe
