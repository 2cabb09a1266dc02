// SPDX-License-Identifier: GPL-2.0
/* initexit: code run only at load, or only at unload, goes in a section of its own. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

/*
 * TODO 1: initexit_start runs only at load: mark it __init so it lands in
 * .init.text (freed once init has returned).
 */
static int initexit_start(void)
{
	pr_info("started\n");
	return 0;
}

/*
 * TODO 2: initexit_stop runs only at unload: mark it __exit so it lands in
 * .exit.text (kept as long as the module is loaded, since it may be unloaded).
 */
static void initexit_stop(void)
{
	pr_info("stopped\n");
}

module_init(initexit_start);
module_exit(initexit_stop);
MODULE_LICENSE("GPL");
