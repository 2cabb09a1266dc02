# kbleds (LKMPG examples): blinking the keyboard LEDs from a timer through the foreground console's tty.
# The lab's guest has a serial console only: vc_cons[0]'s port has no tty, and init oopses
# on the NULL pointer. The report is shown without the values of the run (registers, stack
# words, the PID, and the Code: bytes, whose call offsets move with KASLR).
# Run from data/lkmpg: kcourse sim [--real] --transcript kbleds/script.sh
insmod kbleds/kbleds.ko
dmesg | grep -e kbleds -e poet_atkm -e 'BUG:' -e '#PF:' -e 'Oops:' -e 'Modules linked in:'
dmesg | grep -o 'Comm: .*'
grep '^kbleds ' /proc/modules
cat /proc/sys/kernel/tainted
rmmod kbleds
