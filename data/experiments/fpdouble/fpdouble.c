// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static double half(double x)
{
	return x / 2;
}

static int __init fpdouble_init(void)
{
	pr_info("fpdouble: %d\n", (int)half(3.0));
	return 0;
}
module_init(fpdouble_init);
MODULE_LICENSE("GPL");
