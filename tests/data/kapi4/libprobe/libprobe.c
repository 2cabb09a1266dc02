// SPDX-License-Identifier: GPL-2.0
/* libprobe: memcmp (lib/string.c), kmemdup/kmemdup_nul/kstrdup/kstrndup (mm/util.c) and the
 * find_bit family (lib/find_bit.c) on bitmaps larger than one word. */
#include <linux/bitmap.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static char a[] = "abcdefghij\xff", b[] = "abcdefghij\x01";
static DECLARE_BITMAP(bits, 200);
static DECLARE_BITMAP(other, 200);

static noinline int cmp(const void *x, const void *y, size_t n)
{
	return memcmp(x, y, n);
}

static int __init libprobe_init(void)
{
	char *p, *q, *r, *s;
	unsigned long n;
	int i;

	pr_info("libprobe memcmp %d %d %d %d %d\n", cmp(a, b, 11), cmp(b, a, 11), cmp(a, b, 10),
		cmp("abd", "abc", 3), cmp(a, b, 0));
	p = kmemdup(a, 4, GFP_KERNEL);
	q = kmemdup_nul(a, 3, GFP_KERNEL);
	r = kstrdup("libprobe", GFP_KERNEL);
	s = kstrndup("libprobe", 3, GFP_KERNEL);
	pr_info("libprobe dup %.4s %s %s %s ksize %zu %zu %zu %zu null %d\n", p, q, r, s,
		ksize(p), ksize(q), ksize(r), ksize(s), kstrdup(NULL, GFP_KERNEL) == NULL);
	kfree(p);
	kfree(q);
	kfree(r);
	kfree(s);
	set_bit(3, bits);
	set_bit(64, bits);
	set_bit(130, bits);
	set_bit(199, bits);
	set_bit(130, other);
	pr_info("libprobe first %lu zero %lu last %lu weight %d\n", find_first_bit(bits, 200),
		find_first_zero_bit(bits, 200), find_last_bit(bits, 200), bitmap_weight(bits, 200));
	for (n = find_first_bit(bits, 200), i = 0; n < 200 && i < 10;
	     n = find_next_bit(bits, 200, n + 1), i++)
		pr_info("libprobe bit %lu\n", n);
	pr_info("libprobe next %lu %lu %lu zero %lu and %lu\n", find_next_bit(bits, 199, 131),
		find_next_bit(bits, 200, 200), find_next_bit(bits, 130, 65),
		find_next_zero_bit(bits, 200, 64), find_next_and_bit(bits, other, 200, 0));
	bitmap_fill(other, 200);
	pr_info("libprobe full zero %lu next zero %lu\n", find_first_zero_bit(other, 200),
		find_next_zero_bit(other, 200, 5));
	return 0;
}

static void __exit libprobe_exit(void)
{
}

module_init(libprobe_init);
module_exit(libprobe_exit);
MODULE_LICENSE("GPL");
