// SPDX-License-Identifier: GPL-2.0
/*
 * noexit.c - a module with module_init() but no module_exit().
 *
 * What it teaches: without an exit function the kernel cannot know how to
 * undo what init did, so it refuses to unload the module.
 *   - /proc/modules shows "[permanent]" in the "used by" column
 *     (kernel/module/procfs.c: print_unload_info, when the module has an init
 *     but no exit function).
 *   - rmmod noexit fails with EBUSY ("Device or resource busy"): delete_module()
 *     (kernel/module/main.c) refuses when mod->init && !mod->exit, unless forced;
 *     Debian has CONFIG_MODULE_FORCE_UNLOAD=y, so `rmmod -f noexit` removes it (taint R).
 *   - modpost writes ".exit = cleanup_module" into noexit.mod.c only for a module
 *     that defines cleanup_module (modpost.c: has_cleanup); here .exit stays NULL.
 *
 * Prints:
 *   on load:   "noexit: loaded; there is no exit function, so it cannot be unloaded"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

static int __init noexit_init(void)
{
	pr_info("loaded; there is no exit function, so it cannot be unloaded\n");
	return 0;
}

module_init(noexit_init);
/* No module_exit() on purpose. */

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("Has no module_exit: shows [permanent] and cannot be removed");
MODULE_LICENSE("GPL");
