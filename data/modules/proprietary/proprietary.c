// SPDX-License-Identifier: GPL-2.0
/*
 * proprietary.c - a module that declares a GPL-incompatible licence.
 *
 * (This source file itself is GPL-2.0, like the rest of the course; the
 * MODULE_LICENSE string below is what the kernel sees.)
 *
 * What it teaches:
 *   - MODULE_LICENSE("Proprietary") is not in license_is_gpl_compatible()
 *     (include/linux/license.h), so loading it taints the kernel with P
 *     (bit 0, value 1): "proprietary: module license 'Proprietary' taints kernel."
 *     and /proc/modules shows (POE) for it.
 *   - Such a module may use only plain EXPORT_SYMBOL exports. This one calls
 *     _printk (through pr_info) and nothing else, so modpost accepts it.
 *     See ../gplviolator for what happens when it uses a GPL-only symbol.
 *
 * Prints:
 *   on load:   "proprietary: loaded (licence 'Proprietary', uses only EXPORT_SYMBOL symbols)"
 *   on unload: "proprietary: unloaded"
 * (plus the kernel's own taint message on load, printed by the loader, not by us)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

static int __init proprietary_init(void)
{
	pr_info("loaded (licence 'Proprietary', uses only EXPORT_SYMBOL symbols)\n");
	return 0;
}

static void __exit proprietary_exit(void)
{
	pr_info("unloaded\n");
}

module_init(proprietary_init);
module_exit(proprietary_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A GPL-incompatible licence: taints the kernel with P");
MODULE_LICENSE("Proprietary");
