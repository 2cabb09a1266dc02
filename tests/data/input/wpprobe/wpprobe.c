// SPDX-License-Identifier: GPL-2.0
/* wpprobe: sys_call_table is read-only; a store into it with CR0.WP set is a page fault
 * (kcourse tests/test_kapi_kprobes.py). */
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/unistd.h>

static int __init wpprobe_init(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*lookup)(const char *name);
	unsigned long **table;

	if (register_kprobe(&kp) < 0)
		return -ENOENT;
	lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	table = (unsigned long **)lookup("sys_call_table");
	pr_info("wpprobe cr0 wp %lu\n", (read_cr0() >> 16) & 1);
	WRITE_ONCE(table[__NR_openat], table[__NR_openat]);
	pr_info("wpprobe stored\n");
	return 0;
}

module_init(wpprobe_init);
MODULE_LICENSE("GPL");
