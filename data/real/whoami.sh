# whoami.ko (data/experiments/whoami) prints current->comm, the name of the task that runs
# its code: its init, its read() and its exit.
insmod whoami/whoami.ko
cat /dev/whoami
rmmod whoami
dmesg | grep whoami:
