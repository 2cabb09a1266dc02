// SPDX-License-Identifier: GPL-2.0
/*
 * failinit.c - a module whose init function fails.
 *
 * What it teaches: the value init returns decides whether the module stays.
 * A negative errno makes do_init_module() (kernel/module/main.c) undo the
 * load: the module goes COMING -> GOING and its memory is freed; /proc/modules
 * lists it only while init runs (as Loading). insmod reports the errno with strerror():
 *   insmod: ERROR: could not insert module failinit.ko: No such device
 * Anything init did before failing (here: one printk) has already happened,
 * so an init function that fails must undo its own work first.
 *
 * Prints:
 *   on load:   "failinit: init runs, then returns -ENODEV"
 *   (there is no unload: the exit function below never runs, because a module
 *   whose init failed is never LIVE)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init failinit_init(void)
{
	pr_info("init runs, then returns -ENODEV\n");
	return -ENODEV;		/* -19: "No such device" */
}

/* Never called: the kernel only calls exit for a module that finished loading. */
static void __exit failinit_exit(void)
{
	pr_info("exit (never printed)\n");
}

module_init(failinit_init);
module_exit(failinit_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("Init returns -ENODEV: a load that fails");
MODULE_LICENSE("GPL");
