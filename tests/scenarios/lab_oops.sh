# baduser.ko's write() reads the user buffer straight through its pointer; on a CPU with SMAP
# (the lab runs QEMU -cpu max) the kernel oopses and kills the writer, the pipeline's cat.
insmod baduser/baduser.ko
echo hi | cat > /dev/baduser
# The report's first lines, up to Code:, except values of the run that the comparison does
# not mask (README.md "Comparing"): the faulting address (cat's buffer, placed by ASLR), the
# PGD/P4D/PUD/PMD/PTE entries (physical page frames: that whole line is left out) and, in the
# CPU: line, the PID (the count of processes the guest started before cat). The first line
# up to the address, and the CPU: line from Comm: on, are printed by the second dmesg.
dmesg | head -12 | grep -v -e 'page fault for address' -e '\] PGD ' -e 'CPU: '
dmesg | grep -o -e 'BUG: [a-z ]*address:' -e 'Comm: .*'
cat /proc/sys/kernel/tainted
lsmod
