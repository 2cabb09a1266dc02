// SPDX-License-Identifier: GPL-2.0
/*
 * provider.c - a module that exports symbols for other modules to use.
 *
 * What it teaches: the three kinds of export.
 *   EXPORT_SYMBOL(provider_add)          any module may use it
 *   EXPORT_SYMBOL_GPL(provider_secret)   only modules with a GPL-compatible
 *                                        MODULE_LICENSE may use it
 *   EXPORT_SYMBOL_NS_GPL(provider_ns_hello, KCOURSE)
 *                                        GPL-only, and the user must also
 *                                        say MODULE_IMPORT_NS(KCOURSE)
 * The build writes one line per export to Module.symvers, five fields split by tabs:
 *   <CRC> <symbol> <module path> <export type> <namespace, empty if none>
 * and the .ko gets __ksymtab, __ksymtab_gpl, __kcrctab, __kcrctab_gpl and
 * __ksymtab_strings sections, which the loader searches (find_symbol) while provider
 * is loaded. /proc/kallsyms lists provider's symbols from its .symtab, exported or not.
 *
 * Prints:
 *   on load:   "provider: ready, exporting provider_add, provider_secret, provider_ns_hello"
 *   on unload: "provider: unloaded"
 *   whenever a user calls provider_ns_hello(who):
 *              "provider: hello, <who>, from namespace KCOURSE"
 *
 * While a module that uses these symbols is loaded, `rmmod provider` is
 * refused: "rmmod: ERROR: Module provider is in use by: consumer".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

#include "provider.h"

/* A plain export: usable from any module, whatever its licence. */
int provider_add(int a, int b)
{
	return a + b;
}
EXPORT_SYMBOL(provider_add);

/* A GPL-only export: modpost refuses it to a GPL-incompatible module. */
int provider_secret(void)
{
	return 42;
}
EXPORT_SYMBOL_GPL(provider_secret);

/*
 * A namespaced export. In 6.1 the namespace is written without quotes
 * (include/linux/export.h stringifies it); from 6.13 it is a string.
 */
void provider_ns_hello(const char *who)
{
	pr_info("hello, %s, from namespace KCOURSE\n", who);
}
EXPORT_SYMBOL_NS_GPL(provider_ns_hello, KCOURSE);

static int __init provider_init(void)
{
	pr_info("ready, exporting provider_add, provider_secret, provider_ns_hello\n");
	return 0;
}

static void __exit provider_exit(void)
{
	pr_info("unloaded\n");
}

module_init(provider_init);
module_exit(provider_exit);

MODULE_VERSION("1.0");
MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("Exports one plain, one GPL-only and one namespaced symbol");
MODULE_LICENSE("GPL");
