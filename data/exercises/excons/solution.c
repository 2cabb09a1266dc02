// SPDX-License-Identifier: GPL-2.0
/* excons: uses exprov's exprov_twice(). */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

int exprov_twice(int x);

static int __init excons_init(void)
{
	pr_info("twice 21 is %d\n", exprov_twice(21));
	return 0;
}

static void __exit excons_exit(void)
{
}

module_init(excons_init);
module_exit(excons_exit);
MODULE_LICENSE("GPL");
