// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

int printf(const char *format, ...);	/* libc's prototype, written by hand */

static int __init printf_declared_init(void)
{
	printf("hello from the kernel\n");
	return 0;
}
module_init(printf_declared_init);
MODULE_LICENSE("GPL");
