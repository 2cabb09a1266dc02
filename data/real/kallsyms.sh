# Every symbol of the running kernel, exported or not.
grep -c . /proc/kallsyms
# A vmlinux symbol's letter is nm's (T: global text, t: static): it does not say "exported".
grep -w -e _printk -e kallsyms_lookup_name -e do_init_module /proc/kallsyms
# An exported symbol also has an entry in the export table, __ksymtab_<name>.
grep -w -e __ksymtab__printk -e __ksymtab_kallsyms_lookup_name /proc/kallsyms
# The loader resolves a module's undefined symbols against that table only.
insmod lookup_forced/lookup_forced.ko
dmesg | tail -n 1
# A module's symbols: lowercase, since hello exports none; hello_init is gone with init memory.
insmod hello/hello.ko
grep '\[hello\]' /proc/kallsyms
# Who sees the addresses: kptr_restrict and CAP_SYSLOG (kernel/kallsyms.c kallsyms_show_value).
cat /proc/sys/kernel/kptr_restrict /proc/sys/kernel/perf_event_paranoid
# An ordinary user (added to this throw-away guest's /etc/passwd) has no CAP_SYSLOG.
echo 'student:x:1000:1000::/:/bin/bash' >> /etc/passwd
su -s /bin/bash -c 'grep -w _printk /proc/kallsyms; cat /proc/modules' student
# kptr_restrict=2: nobody sees them, not even root.
echo 2 > /proc/sys/kernel/kptr_restrict
grep -w _printk /proc/kallsyms
cat /proc/modules
