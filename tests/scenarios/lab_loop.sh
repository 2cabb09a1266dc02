# Loops learners type: a load/unload cycle three times (the leak adds up, nothing warns),
# loops over module names, a while loop that ends when rmmod fails, break and continue.
for i in 1 2 3; do insmod leaker/leaker.ko; rmmod leaker; done
dmesg -c
for m in hello leaker; do insmod $m/$m.ko; done; lsmod
for m in leaker hello; do rmmod $m; echo "$m: $?"; done
for m in nosuch hello; do rmmod $m; done; echo $?
insmod hello/hello.ko
while rmmod hello 2>/dev/null; do echo removed; done; echo $?
for i in; do echo never; done; echo $?
for f in hello/*.ko; do echo $f; done
until false; do echo once; break; done
for i in 1 2 3; do continue; echo not; done; echo $i
for i in a b; do for j in 1 2; do echo $i$j; break 2; done; done
while true; do break; done; echo $?
break
for 1x in a; do echo x; done
dmesg -c
