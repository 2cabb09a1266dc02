// SPDX-License-Identifier: GPL-2.0
/*
 * noleak.c - the fixed twin of ../leaker: what it allocates, it frees.
 *
 * What it teaches: the exit function must undo what init did. init takes
 * 4000 bytes with kmalloc(4000, GFP_KERNEL) (an object of the kmalloc-4k slab
 * cache: kmalloc rounds up to 4096), exit gives them back with kfree(), so
 * load + unload leaves kernel memory as it was.
 *
 * Prints:
 *   on load:   "noleak: kmalloc(4000) done, pointer kept in a static variable"
 *   on unload: "noleak: kfree() done, nothing leaked"
 * If kmalloc fails, init returns -ENOMEM and prints nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/slab.h>

/* The only place the pointer is kept: a static variable of this module. */
static void *noleak_buf;

static int __init noleak_init(void)
{
	noleak_buf = kmalloc(4000, GFP_KERNEL);
	if (!noleak_buf)
		return -ENOMEM;
	pr_info("kmalloc(4000) done, pointer kept in a static variable\n");
	return 0;
}

static void __exit noleak_exit(void)
{
	kfree(noleak_buf);
	noleak_buf = NULL;
	pr_info("kfree() done, nothing leaked\n");
}

module_init(noleak_init);
module_exit(noleak_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("kmalloc in init, kfree in exit: the leak fixed");
MODULE_LICENSE("GPL");
