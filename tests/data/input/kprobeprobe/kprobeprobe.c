// SPDX-License-Identifier: GPL-2.0
/* kprobeprobe: register_kprobe on kallsyms_lookup_name, and what that function then finds
 * (kernel/kprobes.c, kernel/kallsyms.c; kcourse tests/test_kapi_kprobes.py). */
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/unistd.h>

static struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };

static int __init kprobeprobe_init(void)
{
	unsigned long (*lookup)(const char *name);
	struct kprobe both = { .symbol_name = "kallsyms_lookup_name",
			       .addr = (kprobe_opcode_t *)&kp };
	struct kprobe neither = { };
	struct kprobe off = { .symbol_name = "kallsyms_lookup_name", .offset = 1 };
	unsigned long **table;
	int err;

	err = register_kprobe(&kp);
	pr_info("kprobeprobe register: %d flags %x offset %u nmissed %lu\n", err, kp.flags,
		kp.offset, kp.nmissed);
	lookup = (void *)kp.addr;
	pr_info("kprobeprobe both: %d neither: %d\n", register_kprobe(&both),
		register_kprobe(&neither));
	err = register_kprobe(&off);
	pr_info("kprobeprobe offset 1: %d flags %x at +%ld\n", err, off.flags,
		(long)((unsigned long)off.addr - (unsigned long)lookup));
	if (!err)
		unregister_kprobe(&off);
	unregister_kprobe(&kp);
	pr_info("kprobeprobe unregistered: flags %x same addr %d\n", kp.flags,
		(void *)kp.addr == (void *)lookup);
	table = (unsigned long **)lookup("sys_call_table");
	pr_info("kprobeprobe table %d openat %d close %d read!=write %d ni %d %d\n", table != NULL,
		table[__NR_openat] == (unsigned long *)lookup("__x64_sys_openat"),
		table[__NR_close] == (unsigned long *)lookup("__x64_sys_close"),
		table[__NR_read] != table[__NR_write],
		table[335] == (unsigned long *)lookup("__x64_sys_ni_syscall"),
		table[__NR_set_mempolicy_home_node] == (unsigned long *)lookup("__x64_sys_set_mempolicy_home_node"));
	pr_info("kprobeprobe lookup self %d printk %d\n",
		lookup("kallsyms_lookup_name") == (unsigned long)lookup,
		lookup("_printk") == (unsigned long)_printk);
	return 0;
}

static void __exit kprobeprobe_exit(void)
{
}

module_init(kprobeprobe_init);
module_exit(kprobeprobe_exit);
MODULE_LICENSE("GPL");
