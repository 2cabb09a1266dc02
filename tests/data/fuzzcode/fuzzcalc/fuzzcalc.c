// SPDX-License-Identifier: GPL-2.0
/*
 * fuzzcalc.c - a target for tests/test_fuzz_code.py: an init that computes (recursion,
 * calls through a table of function pointers, loops over a stack buffer with the stack
 * protector's canary, vmalloc and page allocations, string functions), so mutating its .text
 * gives the CPU varied code to go wrong in.
 *
 * Prints:
 *   on load:   "fuzzcalc: fib(<depth>)=<f> acc=<a> <ne|eq> <text>"
 *   on unload: "fuzzcalc: done <fib(10)>"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static int depth = 12;
module_param(depth, int, 0444);

static noinline int fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int mix(int a, int b) { return (a ^ b) + (a >> 3); }

static int (*const ops[])(int, int) = { add, sub, mul, mix };

static noinline int apply(int i, int a, int b)
{
	return ops[i & 3](a, b);
}

static int __init fuzzcalc_init(void)
{
	char buf[96], word[16];
	unsigned long page;
	int i, acc = 1;
	char *v;

	if (depth < 0 || depth > 20)
		return -EINVAL;
	v = vmalloc(8192);
	page = get_zeroed_page(GFP_KERNEL);
	if (!v || !page) {
		vfree(v);
		free_page(page);
		return -ENOMEM;
	}
	for (i = 0; i < 32; i++)
		acc = apply(i, acc, i * 7 + 1);
	memset(v, 'z', 8191);
	v[8191] = '\0';
	memcpy((void *)page, v, 256);
	strscpy(word, v + 100, sizeof(word));
	snprintf(buf, sizeof(buf), "fib(%d)=%d acc=%d %s %s", depth, fib(depth), acc,
		 strcmp(v, (char *)page) ? "ne" : "eq", word);
	pr_info("%s\n", buf);
	vfree(v);
	free_page(page);
	return 0;
}

static void __exit fuzzcalc_exit(void)
{
	pr_info("done %d\n", fib(10));
}

module_init(fuzzcalc_init);
module_exit(fuzzcalc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Computations for fuzzing module code");
