// SPDX-License-Identifier: GPL-2.0
/*
 * initoops.c - an init function that dereferences a NULL pointer: the oops kills insmod
 * inside finit_module(), and the module is left half-loaded.
 */
#include <linux/module.h>

static int *nowhere;	/* NULL: nothing ever points it anywhere */

static int __init initoops_init(void)
{
	pr_info("initoops: reading *nowhere\n");
	return READ_ONCE(*nowhere);
}

static void __exit initoops_exit(void)
{
	pr_info("initoops: unloaded\n");
}

module_init(initoops_init);
module_exit(initoops_exit);
MODULE_LICENSE("GPL");
