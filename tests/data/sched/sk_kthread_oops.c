// SPDX-License-Identifier: GPL-2.0
/* A kernel thread that dereferences NULL: the oops kills the thread, not insmod. */
#include <linux/module.h>
#include <linux/kthread.h>

struct sk_thing { long a, b, c; };
static struct sk_thing *sk_nothing;

static int sk_bad_thread(void *data)
{
	pr_info("sk_kthread_oops: thread %s runs\n", current->comm);
	pr_info("sk_kthread_oops: %ld\n", READ_ONCE(sk_nothing)->c);
	return 0;
}

static int __init sk_kthread_oops_init(void)
{
	struct task_struct *t = kthread_run(sk_bad_thread, NULL, "sk_bad");

	return IS_ERR(t) ? PTR_ERR(t) : 0;
}

static void __exit sk_kthread_oops_exit(void)
{
	pr_info("sk_kthread_oops: exit\n");
}

module_init(sk_kthread_oops_init);
module_exit(sk_kthread_oops_exit);
MODULE_LICENSE("GPL");
