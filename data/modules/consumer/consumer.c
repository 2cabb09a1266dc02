// SPDX-License-Identifier: GPL-2.0
/*
 * consumer.c - a module that uses the symbols provider.ko exports.
 *
 * What it teaches:
 *   - Calling another module's exports. The compiler only needs the
 *     prototypes (provider.h); modpost needs provider's Module.symvers to
 *     know the symbols exist and their CRCs, so this module is built with
 *       make ... KBUILD_EXTRA_SYMBOLS=<provider build dir>/Module.symvers
 *     Without it modpost fails: ERROR: modpost: "provider_add" [.../consumer.ko] undefined!
 *   - modpost then records the dependency: .modinfo gets "depends=provider",
 *     which depmod turns into a modules.dep line, so `modprobe consumer`
 *     loads provider first. With plain insmod and provider not loaded:
 *     "insmod: ERROR: could not insert module consumer.ko: Unknown symbol in module".
 *   - The __versions section holds one CRC per imported symbol, checked at
 *     load time against the CRCs the provider exported.
 *   - MODULE_IMPORT_NS(KCOURSE): without it modpost stops ("ERROR: modpost: module
 *     consumer uses symbol provider_ns_hello from namespace KCOURSE, but does not
 *     import it.") and the kernel would refuse it (verify_namespace_is_imported).
 *   - While consumer is loaded, provider's refcnt is 1 and lsmod shows
 *     "provider ... 1 consumer".
 *
 * Prints (in this order):
 *   on load:   "consumer: provider_add(2, 3) = 5"
 *              "consumer: provider_secret() = 42"
 *              "provider: hello, consumer, from namespace KCOURSE"   (printed by provider's code)
 *   on unload: "consumer: unloaded"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

#include "provider.h"	/* found through ccflags-y in Kbuild */

MODULE_IMPORT_NS(KCOURSE);

static int __init consumer_init(void)
{
	pr_info("provider_add(2, 3) = %d\n", provider_add(2, 3));
	pr_info("provider_secret() = %d\n", provider_secret());
	provider_ns_hello("consumer");
	return 0;
}

static void __exit consumer_exit(void)
{
	pr_info("unloaded\n");
}

module_init(consumer_init);
module_exit(consumer_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("Uses provider's plain, GPL-only and namespaced exports");
MODULE_LICENSE("GPL");
