// SPDX-License-Identifier: GPL-2.0
/* A work item that dereferences NULL: the oops kills the kworker, not the shell. */
#include <linux/module.h>
#include <linux/workqueue.h>

struct sk_thing { long a, b, c; };
static struct sk_thing *sk_nothing;
static struct work_struct sk_work;

static void sk_bad_work(struct work_struct *w)
{
	pr_info("sk_workoops: work runs\n");
	pr_info("sk_workoops: %ld\n", READ_ONCE(sk_nothing)->c);
}

static int __init sk_workoops_init(void)
{
	INIT_WORK(&sk_work, sk_bad_work);
	schedule_work(&sk_work);
	return 0;
}

static void __exit sk_workoops_exit(void)
{
	pr_info("sk_workoops: exit\n");
}

module_init(sk_workoops_init);
module_exit(sk_workoops_exit);
MODULE_LICENSE("GPL");
