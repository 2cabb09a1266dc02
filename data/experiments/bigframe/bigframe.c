// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/string.h>

static noinline int bigframe_fill(void)
{
	char buf[20000];

	memset(buf, 0x5a, sizeof(buf));
	barrier_data(buf);	/* keep the array: the compiler must not drop it */
	return buf[sizeof(buf) - 1];
}

static int __init bigframe_init(void)
{
	return bigframe_fill() == 0x5a ? 0 : -EINVAL;
}
module_init(bigframe_init);
MODULE_LICENSE("GPL");
