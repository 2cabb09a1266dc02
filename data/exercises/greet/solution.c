// SPDX-License-Identifier: GPL-2.0
/*
 * greet: prints a greeting that is not in this file. Do not edit the C:
 * the greeting comes from the build.
 *
 * TODO 1: give kbuild a line (in %%kmodule greet --kbuild '...') that adds
 * -DGREETING='"hello from kbuild"' to the compiler's flags for this module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

#ifndef GREETING
#error "GREETING is not defined: kbuild did not pass -DGREETING"
#endif

static int __init greet_init(void)
{
	pr_info("%s\n", GREETING);
	return 0;
}

static void __exit greet_exit(void)
{
}

module_init(greet_init);
module_exit(greet_exit);
MODULE_LICENSE("GPL");
