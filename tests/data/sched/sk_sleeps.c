// SPDX-License-Identifier: GPL-2.0
/* Sleeping where it is not allowed: under a spinlock in init, exit, a work item or a kernel
 * thread (how= picks the sleeping call), and in a tasklet. */
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/spinlock.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/kthread.h>
#include <linux/interrupt.h>

static int how = 1, where;
module_param(how, int, 0);
module_param(where, int, 0);

static DEFINE_SPINLOCK(sk_lock);
static DECLARE_COMPLETION(sk_never);
static DECLARE_WAIT_QUEUE_HEAD(sk_wq);
static struct work_struct sk_work;
static struct task_struct *sk_thread;
static int sk_done;

static void sk_sleep_somehow(void)
{
	switch (how) {
	case 1:
		msleep(1);
		break;
	case 2:
		wait_for_completion_timeout(&sk_never, 1);
		break;
	case 3:
		schedule_timeout_interruptible(1);
		break;
	case 4:
		usleep_range(100, 200);
		break;
	case 5:
		wait_event_timeout(sk_wq, sk_done, 1);
		break;
	}
}

static void sk_locked_sleep(const char *where_name)
{
	spin_lock(&sk_lock);
	sk_sleep_somehow();
	spin_unlock(&sk_lock);
	pr_info("sk_sleeps: slept in %s (how=%d)\n", where_name, how);
}

static void sk_work_fn(struct work_struct *w)
{
	sk_locked_sleep("a work item");
}

static int sk_thread_fn(void *data)
{
	sk_locked_sleep("a kernel thread");
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static void sk_tasklet_fn(struct tasklet_struct *t)
{
	sk_sleep_somehow();
	pr_info("sk_sleeps: slept in a tasklet (how=%d)\n", how);
}

static DECLARE_TASKLET(sk_tasklet, sk_tasklet_fn);

static int __init sk_sleeps_init(void)
{
	switch (where) {
	case 0:
		sk_locked_sleep("init");
		break;
	case 2:
		INIT_WORK(&sk_work, sk_work_fn);
		schedule_work(&sk_work);
		break;
	case 3:
		tasklet_schedule(&sk_tasklet);
		break;
	case 4:
		sk_thread = kthread_run(sk_thread_fn, NULL, "sk_sleeper");
		break;
	}
	return 0;
}

static void __exit sk_sleeps_exit(void)
{
	switch (where) {
	case 1:
		sk_locked_sleep("exit");
		break;
	case 2:
		flush_work(&sk_work);
		break;
	case 3:
		tasklet_kill(&sk_tasklet);
		break;
	case 4:
		kthread_stop(sk_thread);
		break;
	}
}

module_init(sk_sleeps_init);
module_exit(sk_sleeps_exit);
MODULE_LICENSE("GPL");
