"""Recorded by kcourse.lab.lesson.record() on the real kernel (QEMU); do not edit."""
# ruff: noqa: E501

RELEASE = '6.1.0-56-amd64'

SESSIONS = {
    'internals': [
        {'line': 'insmod hello/hello.ko whom=lab', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('hello: loading out-of-tree module taints kernel.', 'hello: module verification failed: signature and/or required key missing - tainting kernel', 'hello: hello, lab (count=1)')},
        {'line': 'cat /proc/modules', 'stdout': 'hello 16384 0 - Live 0xADDR (OE)\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'lsmod', 'stdout': 'Module                  Size  Used by\nhello                  16384  0\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'ls /sys/module/hello', 'stdout': 'coresize\nholders\ninitsize\ninitstate\nnotes\nparameters\nrefcnt\nsections\nsrcversion\ntaint\nuevent\nversion\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'cat /sys/module/hello/initstate /sys/module/hello/refcnt /sys/module/hello/taint', 'stdout': 'live\n0\nOE\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'cat /sys/module/hello/coresize /sys/module/hello/initsize', 'stdout': '16384\n0\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'ls -a /sys/module/hello/sections', 'stdout': '.\n..\n.data\n.exit.data\n.exit.text\n.gnu.linkonce.this_module\n.init.data\n.init.text\n.note.Linux\n.note.gnu.build-id\n.orc_unwind\n.orc_unwind_ip\n.return_sites\n.rodata\n.rodata.str1.1\n.rodata.str1.8\n.strtab\n.symtab\n__mcount_loc\n__param\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'cat /proc/sys/kernel/tainted', 'stdout': '12288\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'modprobe consumer', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('provider: ready, exporting provider_add, provider_secret, provider_ns_hello', 'consumer: provider_add(2, 3) = 5', 'consumer: provider_secret() = 42', 'provider: hello, consumer, from namespace KCOURSE')},
        {'line': 'lsmod', 'stdout': 'Module                  Size  Used by\nconsumer               16384  0\nprovider               16384  1 consumer\nhello                  16384  0\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'cat /sys/module/provider/refcnt', 'stdout': '1\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'ls /sys/module/provider/holders', 'stdout': 'consumer\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'rmmod provider', 'stdout': '', 'stderr': 'rmmod: ERROR: Module provider is in use by: consumer\n', 'rc': 1, 'dmesg': ()},
        {'line': 'rmmod consumer provider hello', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('consumer: unloaded', 'provider: unloaded', 'hello: goodbye, lab')},
        {'line': 'dmesg', 'stdout': '[TIME] hello: loading out-of-tree module taints kernel.\n[TIME] hello: module verification failed: signature and/or required key missing - tainting kernel\n[TIME] hello: hello, lab (count=1)\n[TIME] provider: ready, exporting provider_add, provider_secret, provider_ns_hello\n[TIME] consumer: provider_add(2, 3) = 5\n[TIME] consumer: provider_secret() = 42\n[TIME] provider: hello, consumer, from namespace KCOURSE\n[TIME] consumer: unloaded\n[TIME] provider: unloaded\n[TIME] hello: goodbye, lab\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
    ],
    'breaking': [
        {'line': 'insmod failinit/failinit.ko', 'stdout': '', 'stderr': 'insmod: ERROR: could not insert module failinit/failinit.ko: No such device\n', 'rc': 1, 'dmesg': ('failinit: loading out-of-tree module taints kernel.', 'failinit: module verification failed: signature and/or required key missing - tainting kernel', 'failinit: init runs, then returns -ENODEV')},
        {'line': 'insmod kcdev/kcdev.ko', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('kcdev: /dev/kcdev registered',)},
        {'line': 'exec 3< /dev/kcdev', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('kcdev: open, refcnt=1',)},
        {'line': 'rmmod kcdev', 'stdout': '', 'stderr': 'rmmod: ERROR: Module kcdev is in use\n', 'rc': 1, 'dmesg': ()},
        {'line': 'exec 3<&-', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('kcdev: release',)},
        {'line': 'rmmod kcdev', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('kcdev: /dev/kcdev removed',)},
        {'line': 'insmod /tmp/kcourse-tampered/hello-nopreempt.ko', 'stdout': '', 'stderr': 'insmod: ERROR: could not insert module /tmp/kcourse-tampered/hello-nopreempt.ko: Invalid module format\n', 'rc': 1, 'dmesg': ("hello: version magic '6.1.0-56-amd64 SMP mod_unload modversions ' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions '",)},
        {'line': 'insmod /tmp/kcourse-tampered/hello-badcrc.ko', 'stdout': '', 'stderr': 'insmod: ERROR: could not insert module /tmp/kcourse-tampered/hello-badcrc.ko: Invalid module format\n', 'rc': 1, 'dmesg': ('hello: disagrees about version of symbol module_layout',)},
        {'line': 'insmod /tmp/kcourse-tampered/hello-release.ko', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('hello: hello, world (count=1)',)},
        {'line': 'rmmod hello', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('hello: goodbye, world',)},
        {'line': 'dmesg', 'stdout': "[TIME] failinit: loading out-of-tree module taints kernel.\n[TIME] failinit: module verification failed: signature and/or required key missing - tainting kernel\n[TIME] failinit: init runs, then returns -ENODEV\n[TIME] kcdev: /dev/kcdev registered\n[TIME] kcdev: open, refcnt=1\n[TIME] kcdev: release\n[TIME] kcdev: /dev/kcdev removed\n[TIME] hello: version magic '6.1.0-56-amd64 SMP mod_unload modversions ' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions '\n[TIME] hello: disagrees about version of symbol module_layout\n[TIME] hello: hello, world (count=1)\n[TIME] hello: goodbye, world\n", 'stderr': '', 'rc': 0, 'dmesg': ()},
    ],
    'debian': [
        {'line': 'modprobe 8021q', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ('8021q: 802.1Q VLAN Support v1.8',)},
        {'line': 'lsmod', 'stdout': 'Module                  Size  Used by\n8021q                  40960  0\ngarp                   16384  1 8021q\nstp                    16384  1 garp\nllc                    16384  2 stp,garp\nmrp                    20480  1 8021q\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'modprobe -r 8021q', 'stdout': '', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'lsmod', 'stdout': 'Module                  Size  Used by\nstp                    16384  0\nllc                    16384  1 stp\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'cat /proc/sys/kernel/tainted', 'stdout': '0\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
        {'line': 'dmesg', 'stdout': '[TIME] 8021q: 802.1Q VLAN Support v1.8\n', 'stderr': '', 'rc': 0, 'dmesg': ()},
    ],
}
