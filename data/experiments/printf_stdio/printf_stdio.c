// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <stdio.h>

static int __init printf_stdio_init(void)
{
	printf("hello from the kernel\n");
	return 0;
}
module_init(printf_stdio_init);
MODULE_LICENSE("GPL");
