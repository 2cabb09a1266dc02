// SPDX-License-Identifier: GPL-2.0
#include <linux/kallsyms.h>
#include <linux/module.h>

static int __init lookup_forced_init(void)
{
	/* declared in <linux/kallsyms.h>, listed in /proc/kallsyms, but not exported */
	pr_info("lookup_forced: _printk is at %px\n", (void *)kallsyms_lookup_name("_printk"));
	return 0;
}
module_init(lookup_forced_init);
MODULE_LICENSE("GPL");
