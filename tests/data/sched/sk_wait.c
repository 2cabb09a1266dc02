// SPDX-License-Identifier: GPL-2.0
/* Completions and wait queues between a kernel thread and the module's init/exit. */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/delay.h>

static DECLARE_COMPLETION(sk_started);
static struct completion sk_go;
static DECLARE_WAIT_QUEUE_HEAD(sk_waitq);
static int sk_flag;
static struct task_struct *sk_thread;

static int sk_waiter(void *data)
{
	unsigned long left;
	int ret;

	complete(&sk_started);
	left = wait_for_completion_timeout(&sk_go, HZ / 10);
	pr_info("sk_wait: first wait timed out: %d\n", left == 0);
	left = wait_for_completion_timeout(&sk_go, 10 * HZ);
	pr_info("sk_wait: second wait completed with time left: %d, done=%d\n", left > 0,
		completion_done(&sk_go));
	ret = wait_event_interruptible(sk_waitq, sk_flag != 0);
	pr_info("sk_wait: woken with flag=%d ret=%d\n", sk_flag, ret);
	while (!kthread_should_stop())
		msleep(20);
	return 7;
}

static int __init sk_wait_init(void)
{
	init_completion(&sk_go);
	sk_thread = kthread_run(sk_waiter, NULL, "sk_waiter");
	if (IS_ERR(sk_thread))
		return PTR_ERR(sk_thread);
	wait_for_completion(&sk_started);
	pr_info("sk_wait: the thread has started; try_wait=%d\n",
		try_wait_for_completion(&sk_started));
	msleep(300);
	complete(&sk_go);
	msleep(50);
	sk_flag = 1;
	wake_up_interruptible(&sk_waitq);
	pr_info("sk_wait: init done, waitqueue active=%d\n", waitqueue_active(&sk_waitq));
	return 0;
}

static void __exit sk_wait_exit(void)
{
	pr_info("sk_wait: kthread_stop=%d\n", kthread_stop(sk_thread));
}

module_init(sk_wait_init);
module_exit(sk_wait_exit);
MODULE_LICENSE("GPL");
