// SPDX-License-Identifier: GPL-2.0
/*
 * main.c: the first file of twofile.ko; util.c, next to it, is the second.
 *
 * TODO 1: on the %%kmodule line, give kbuild the two lines that make
 * twofile.ko of main.o and util.o (--kbuild '...' --kbuild '...').
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

int twofile_sum(int a, int b);

static int __init twofile_init(void)
{
	pr_info("2 + 3 = %d\n", twofile_sum(2, 3));
	return 0;
}

static void __exit twofile_exit(void)
{
}

module_init(twofile_init);
module_exit(twofile_exit);
MODULE_LICENSE("GPL");
