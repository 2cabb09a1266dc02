/* SPDX-License-Identifier: GPL-2.0 */
/*
 * provider.h - the interface provider.ko exports to other modules.
 *
 * A module that calls these functions includes this header for the
 * prototypes; the addresses are resolved by the kernel's module loader when
 * the user is loaded (kernel/module/main.c: simplify_symbols), and the
 * build needs provider's Module.symvers to know they exist (modpost).
 */
#ifndef KCOURSE_PROVIDER_H
#define KCOURSE_PROVIDER_H

int provider_add(int a, int b);			/* EXPORT_SYMBOL */
int provider_secret(void);			/* EXPORT_SYMBOL_GPL */
void provider_ns_hello(const char *who);	/* EXPORT_SYMBOL_NS_GPL, namespace KCOURSE */

#endif /* KCOURSE_PROVIDER_H */
