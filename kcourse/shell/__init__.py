"""kshell: user space over the simulated kernel.

`Shell` runs the commands a learner types on a Debian 12 machine (kmod 30's insmod, rmmod,
lsmod, modprobe, modinfo, depmod; cat, ls, echo > /sys/..., dmesg, uname, exec N</dev/x;
for/while loops and background jobs) and answers with the same text and status the real
tools give. The tools reach the kernel only through its files (/proc, /sys, /dev) and the
two module syscalls, like the real ones.
`%%kshell` (kcourse.magic) and `kcourse sim` (sim_main) both run on it.

Package layout: parser (bash syntax), fs (the file system rule), moddir (/lib/modules and
depmod), kmodtools (insmod, rmmod, lsmod), modprobe (modprobe, modinfo, depmod), softdeps
(modprobe's soft dependencies), coreutils (cat, ls, dmesg, ...), jobs (`&`, wait, kill),
core (Shell), sim (the CLI).
"""

from kcourse.shell.core import Shell
from kcourse.shell.sim import sim_main

__all__ = ["Shell", "sim_main"]
