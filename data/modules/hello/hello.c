// SPDX-License-Identifier: GPL-2.0
/*
 * hello.c - the smallest useful loadable kernel module.
 *
 * What it teaches:
 *   - module_init()/module_exit(): called at load and at rmmod; both optional (../noexit).
 *   - __init/__exit: the init code lives in .init.text and is freed once
 *     init has returned 0; the exit code lives in .exit.text.
 *   - module_param(): two parameters that appear under
 *     /sys/module/hello/parameters/ with the permissions given here.
 *   - MODULE_*() macros: each one adds a "key=value" string to the .modinfo
 *     section, which is what `modinfo hello.ko` prints.
 *
 * Prints (the exact kernel log lines, with the default parameters):
 *   on load:   "hello: hello, world (count=1)"
 *   on unload: "hello: goodbye, world"
 * In general: "hello: hello, <whom> (count=<count>)" and "hello: goodbye, <whom>",
 * where <whom> is the value of the parameter at the time of the call (it can be
 * changed through sysfs between load and unload because its mode is 0644).
 */

/*
 * pr_fmt() is applied by every pr_*() call in this file: it prefixes each
 * message with the module name ("hello: "), so the messages are easy to find
 * in dmesg. It must be defined before any #include.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

/*
 * whom: a string parameter (charp). Mode 0644: root may change it at run
 * time by writing /sys/module/hello/parameters/whom.
 */
static char *whom = "world";
module_param(whom, charp, 0644);
MODULE_PARM_DESC(whom, "Who to greet (default: world)");

/*
 * count: an integer parameter. Mode 0444: readable by everyone in sysfs but
 * writable by nobody (writing it gives "Permission denied"); it can only be
 * set on the command line: insmod hello.ko count=3
 */
static int count = 1;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "A number shown in the greeting (default: 1)");

/* Called by the kernel (do_init_module) after the module has been linked in. */
static int __init hello_init(void)
{
	pr_info("hello, %s (count=%d)\n", whom, count);
	return 0;	/* 0 = success: the module becomes LIVE */
}

/* Called by delete_module() when `rmmod hello` runs and nobody uses us. */
static void __exit hello_exit(void)
{
	pr_info("goodbye, %s\n", whom);
}

module_init(hello_init);
module_exit(hello_exit);

MODULE_VERSION("1.0");		/* also makes modpost add a srcversion= tag */
MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("Say hello and goodbye; two module parameters");
MODULE_LICENSE("GPL");
