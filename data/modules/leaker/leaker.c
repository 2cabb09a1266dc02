// SPDX-License-Identifier: GPL-2.0
/*
 * leaker.c - an allocation that is never freed: a memory leak.
 *
 * What it teaches: kernel memory is not tied to the module that allocated it.
 * kmalloc(4000, GFP_KERNEL) takes an object from the kmalloc-4k slab cache
 * (kmalloc rounds 4000 up to 4096 bytes). The exit function "forgets" to
 * kfree() it, so after rmmod the 4096 bytes stay allocated, owned by nobody,
 * until the machine reboots. Nothing warns at unload. (A kernel built with
 * CONFIG_DEBUG_KMEMLEAK would report it later as an unreferenced object;
 * Debian's kernel is not.) Compare ../noleak, the fixed twin.
 *
 * Prints:
 *   on load:   "leaker: kmalloc(4000) done, pointer kept in a static variable"
 *   on unload: "leaker: exit without kfree(): 4000 bytes leaked"
 * If kmalloc fails, init returns -ENOMEM and prints nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/slab.h>

/* The only place the pointer is kept: a static variable of this module. */
static void *leaker_buf;

static int __init leaker_init(void)
{
	leaker_buf = kmalloc(4000, GFP_KERNEL);
	if (!leaker_buf)
		return -ENOMEM;
	pr_info("kmalloc(4000) done, pointer kept in a static variable\n");
	return 0;
}

static void __exit leaker_exit(void)
{
	/* BUG (on purpose): kfree(leaker_buf) is missing here. */
	pr_info("exit without kfree(): 4000 bytes leaked\n");
}

module_init(leaker_init);
module_exit(leaker_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("kmalloc in init, no kfree in exit: leaks 4000 bytes");
MODULE_LICENSE("GPL");
