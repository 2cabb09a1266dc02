modprobe dummy
ls /sys/class/net/dummy0/power /sys/class/net/dummy0/queues /sys/class/net/dummy0/queues/rx-0 /sys/class/net/dummy0/queues/tx-0 /sys/class/net/dummy0/queues/tx-0/byte_queue_limits
cd /sys/class/net/dummy0/power
for f in *; do echo "$f: $(cat $f 2>&1)"; done
cd /sys/class/net/dummy0/queues/rx-0
for f in *; do echo "$f: $(cat $f 2>&1)"; done
cd /sys/class/net/dummy0/queues/tx-0
for f in *; do echo "$f: $(cat $f 2>&1)"; done
cd /sys/class/net/dummy0/queues/tx-0/byte_queue_limits
for f in *; do echo "$f: $(cat $f 2>&1)"; done
cd /
ls -l /sys/class/net/dummy0/power /sys/class/net/dummy0/queues/rx-0 /sys/class/net/dummy0/queues/tx-0 /sys/class/net/dummy0/queues/tx-0/byte_queue_limits
ls /sys/class/net/lo/queues
rmmod dummy
