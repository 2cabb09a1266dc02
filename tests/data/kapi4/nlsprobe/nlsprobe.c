// SPDX-License-Identifier: GPL-2.0
/* nlsprobe: __register_nls and unregister_nls (fs/nls/nls_base.c) on two tables of its own:
 * the list through ->next, -EBUSY for a table registered twice, -EINVAL for one not in the
 * list, and the layout of struct nls_table. */
#include <linux/module.h>
#include <linux/nls.h>
#include <linux/stddef.h>

static struct nls_table a = { .charset = "kcprobe-a" };
static struct nls_table b = { .charset = "kcprobe-b" };

static const char *next(struct nls_table *t)
{
	return t->next ? t->next->charset : "-";
}

static int __init nlsprobe_init(void)
{
	int ret;

	pr_info("nlsprobe layout: %zu %zu %zu\n", sizeof(struct nls_table),
		offsetof(struct nls_table, owner), offsetof(struct nls_table, next));
	ret = register_nls(&a);
	pr_info("nlsprobe a %d owner %d next %s\n", ret, a.owner == THIS_MODULE, next(&a));
	ret = register_nls(&a);
	pr_info("nlsprobe a again %d\n", ret);
	ret = register_nls(&b);
	pr_info("nlsprobe b %d next %s\n", ret, next(&b));
	ret = unregister_nls(&a);
	pr_info("nlsprobe unregister a %d b next %s\n", ret, next(&b));
	ret = unregister_nls(&a);
	pr_info("nlsprobe unregister a again %d\n", ret);
	a.next = NULL;
	ret = register_nls(&a);
	pr_info("nlsprobe a after %d next %s\n", ret, next(&a));
	return 0;
}

static void __exit nlsprobe_exit(void)
{
	int ra = unregister_nls(&a);
	int rb = unregister_nls(&b);

	pr_info("nlsprobe exit %d %d\n", ra, rb);
}

module_init(nlsprobe_init);
module_exit(nlsprobe_exit);
MODULE_LICENSE("GPL");
