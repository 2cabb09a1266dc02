// SPDX-License-Identifier: GPL-2.0
/* idrprobe: idr_alloc, idr_remove, idr_find, idr_for_each_entry, idr_destroy (lib/idr.c) */
#include <linux/idr.h>
#include <linux/module.h>
static DEFINE_IDR(ids);
static int __init i_init(void)
{
	void *p;
	int id, a = idr_alloc(&ids, &ids, 0, 0, GFP_KERNEL), b = idr_alloc(&ids, &a, 0, 0, GFP_KERNEL);
	int c = idr_alloc(&ids, &b, 5, 6, GFP_KERNEL), d = idr_alloc(&ids, &c, 5, 6, GFP_KERNEL);
	idr_remove(&ids, a);
	pr_info("idrprobe %d %d %d %d %d %d\n", a, b, c, d, idr_alloc(&ids, &d, 0, 0, GFP_KERNEL),
		idr_find(&ids, 1) == &a);
	idr_for_each_entry(&ids, p, id)
		pr_info("idrprobe entry %d\n", id);
	idr_destroy(&ids);
	pr_info("idrprobe empty %d\n", idr_find(&ids, 1) == NULL);
	return -ENODEV;
}
module_init(i_init);
MODULE_LICENSE("GPL");
