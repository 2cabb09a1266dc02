// SPDX-License-Identifier: GPL-2.0
/* exprov: offers a function to other modules. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

int exprov_twice(int x)
{
	return 2 * x;
}
/* TODO 1: export exprov_twice so that other modules can call it */

static int __init exprov_init(void)
{
	pr_info("ready\n");
	return 0;
}

static void __exit exprov_exit(void)
{
}

module_init(exprov_init);
module_exit(exprov_exit);
MODULE_LICENSE("GPL");
