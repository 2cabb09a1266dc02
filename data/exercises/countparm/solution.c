// SPDX-License-Identifier: GPL-2.0
/* countparm: a module with a parameter, and tags that modinfo shows. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int count = 1;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "how many things to count");

static int __init countparm_init(void)
{
	pr_info("count=%d\n", count);
	return 0;
}

static void __exit countparm_exit(void)
{
}

module_init(countparm_init);
module_exit(countparm_exit);
MODULE_AUTHOR("A. Learner");
MODULE_DESCRIPTION("Prints the count it is given");
MODULE_LICENSE("GPL");
