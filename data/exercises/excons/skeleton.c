// SPDX-License-Identifier: GPL-2.0
/* excons: uses exprov's exprov_twice(). */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

/* TODO 2: declare exprov_twice (it takes an int and returns an int) */

static int __init excons_init(void)
{
	/* TODO 3: print "twice 21 is N", N being what exprov_twice(21) returns */
	return 0;
}

static void __exit excons_exit(void)
{
}

module_init(excons_init);
module_exit(excons_exit);
MODULE_LICENSE("GPL");
