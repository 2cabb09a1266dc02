// SPDX-License-Identifier: GPL-2.0
/*
 * gplviolator.c - a GPL-incompatible module that uses a GPL-only export.
 *
 * (This source file itself is GPL-2.0, like the rest of the course; the
 * MODULE_LICENSE string below is what the build and the kernel see.)
 *
 * What it teaches: EXPORT_SYMBOL_GPL is enforced twice.
 *   1. At build time modpost refuses it (scripts/mod/modpost.c,
 *      check_exports):
 *        ERROR: modpost: GPL-incompatible module gplviolator.ko uses GPL-only symbol 'kernel_fpu_begin_mask'
 *      so no gplviolator.ko is produced. The exact output is saved in
 *      modpost-error.txt by scripts/build-modules.sh.
 *   2. At load time (a .ko made some other way) the kernel looks the symbol
 *      up without GPL permission and reports it missing:
 *        gplviolator: Unknown symbol kernel_fpu_begin_mask (err -2)
 *
 * kernel_fpu_begin_mask() lets kernel code use the FPU/SIMD registers
 * (arch/x86/kernel/fpu/core.c: EXPORT_SYMBOL_GPL(kernel_fpu_begin_mask)).
 *
 * Prints (if it could ever be loaded):
 *   on load:   "gplviolator: used the FPU"
 *   on unload: "gplviolator: unloaded"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <asm/fpu/api.h>

static int __init gplviolator_init(void)
{
	kernel_fpu_begin();	/* inline: calls kernel_fpu_begin_mask() */
	kernel_fpu_end();	/* also GPL-only */
	pr_info("used the FPU\n");
	return 0;
}

static void __exit gplviolator_exit(void)
{
	pr_info("unloaded\n");
}

module_init(gplviolator_init);
module_exit(gplviolator_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A proprietary module using a GPL-only symbol: modpost refuses it");
MODULE_LICENSE("Proprietary");
