// SPDX-License-Identifier: GPL-2.0
/* countparm: a module with a parameter, and tags that modinfo shows. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int count = 1;
/*
 * TODO 1: make count a module parameter of type int that everyone can read and
 * nobody can write in /sys/module/countparm/parameters/count (permissions 0444),
 * and describe it with MODULE_PARM_DESC.
 */

static int __init countparm_init(void)
{
	/* TODO 2: print "count=N" (N: the value of count) */
	return 0;
}

static void __exit countparm_exit(void)
{
}

module_init(countparm_init);
module_exit(countparm_exit);
/* TODO 3: add MODULE_AUTHOR and MODULE_DESCRIPTION */
MODULE_LICENSE("GPL");
