# Background jobs: `&` (bash says [N] PID on stderr), wait, kill %N / kill PID, jobs. A job
# killed, or done, is forgotten before the next line (`wait %1` then finds no such job).
# Two jobs at once load in either order on the real kernel: each line waits for one first.
insmod hello/hello.ko &
wait
lsmod
rmmod hello & wait $!; echo $?
sleep 5 &
kill %1
wait %1; echo $?
sleep 5 &
jobs
kill -9 %1
wait %1; echo $?
kill %1
wait %1
false &
wait $!; echo $?
insmod nosuch.ko & wait
insmod hello/hello.ko & wait $!; insmod leaker/leaker.ko & wait
lsmod
rmmod hello && rmmod leaker &
wait; lsmod
kill 99999
wait 99999
kill
kill -FOO %1
dmesg -c
