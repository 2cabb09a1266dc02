// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int __init printf_undeclared_init(void)
{
	printf("hello from the kernel\n");
	return 0;
}
module_init(printf_undeclared_init);
MODULE_LICENSE("GPL");
