// SPDX-License-Identifier: GPL-2.0
/* initexit: code run only at load, or only at unload, goes in a section of its own. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

static int __init initexit_start(void)
{
	pr_info("started\n");
	return 0;
}

static void __exit initexit_stop(void)
{
	pr_info("stopped\n");
}

module_init(initexit_start);
module_exit(initexit_stop);
MODULE_LICENSE("GPL");
