# sched (LKMPG examples): a work item on its own workqueue.
# Run from data/lkmpg: kcourse sim [--real] --transcript sched/script.sh
insmod sched/sched.ko
sleep 1
dmesg -c
grep '^sched ' /proc/modules
rmmod sched
dmesg -c
