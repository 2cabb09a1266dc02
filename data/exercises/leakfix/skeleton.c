// SPDX-License-Identifier: GPL-2.0
/* leakfix: init keeps a 4000-byte buffer; exit must give it back. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/slab.h>

static void *leakfix_buf;

static int __init leakfix_init(void)
{
	leakfix_buf = kmalloc(4000, GFP_KERNEL);
	if (!leakfix_buf)
		return -ENOMEM;
	pr_info("buffer allocated\n");
	return 0;
}

static void __exit leakfix_exit(void)
{
	/* TODO 1: free the buffer init allocated, so rmmod leaves nothing behind */
	pr_info("buffer freed\n");
}

module_init(leakfix_init);
module_exit(leakfix_exit);
MODULE_LICENSE("GPL");
