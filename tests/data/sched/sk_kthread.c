// SPDX-License-Identifier: GPL-2.0
/* A kernel thread that sleeps in a loop until kthread_stop() (kcourse tests). */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/sched.h>

static struct task_struct *sk_thread;
static int sk_loops;

static int sk_thread_fn(void *data)
{
	pr_info("sk_kthread: thread %s starts: kthread=%d data=%s in_task=%d\n", current->comm,
		(current->flags & PF_KTHREAD) ? 1 : 0, (char *)data, in_task() ? 1 : 0);
	while (!kthread_should_stop()) {
		sk_loops++;
		msleep(100);
	}
	pr_info("sk_kthread: thread stops after more than 5 loops: %d\n", sk_loops > 5);
	return 42;
}

static int __init sk_kthread_init(void)
{
	sk_thread = kthread_run(sk_thread_fn, "hello", "sk_thread/%d", 7);
	if (IS_ERR(sk_thread))
		return PTR_ERR(sk_thread);
	pr_info("sk_kthread: created %s, loops=%d\n", sk_thread->comm, sk_loops);
	return 0;
}

static void __exit sk_kthread_exit(void)
{
	int ret = kthread_stop(sk_thread);

	pr_info("sk_kthread: kthread_stop returned %d\n", ret);
}

module_init(sk_kthread_init);
module_exit(sk_kthread_exit);
MODULE_LICENSE("GPL");
