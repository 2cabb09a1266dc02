// SPDX-License-Identifier: GPL-2.0
/* Work items: the system workqueue, a module's own, delayed work, flush and cancel. */
#include <linux/module.h>
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <linux/delay.h>
#include <linux/sched.h>

static struct workqueue_struct *sk_queue;
static struct work_struct sk_work, sk_own_work;
static struct delayed_work sk_delayed, sk_never;
static unsigned long sk_armed;
static int sk_order;

static void sk_work_fn(struct work_struct *w)
{
	pr_info("sk_wq: %s runs #%d in a kworker=%d in_task=%d pending=%d\n",
		w == &sk_work ? "system work" : "own work", ++sk_order,
		strncmp(current->comm, "kworker/", 8) == 0, in_task() ? 1 : 0,
		work_pending(w) ? 1 : 0);
	msleep(10);
}

static void sk_delayed_fn(struct work_struct *w)
{
	pr_info("sk_wq: delayed work runs %ld jiffies after queueing (at least 50: %d)\n",
		(long)(jiffies - sk_armed), jiffies - sk_armed >= 50);
}

static int __init sk_wq_init(void)
{
	bool queued;

	sk_queue = alloc_workqueue("sk_queue", WQ_UNBOUND, 1);
	if (!sk_queue)
		return -ENOMEM;
	INIT_WORK(&sk_work, sk_work_fn);
	INIT_WORK(&sk_own_work, sk_work_fn);
	INIT_DELAYED_WORK(&sk_delayed, sk_delayed_fn);
	INIT_DELAYED_WORK(&sk_never, sk_delayed_fn);
	queued = schedule_work(&sk_work);
	pr_info("sk_wq: schedule_work=%d, again=%d, pending=%d\n", queued,
		schedule_work(&sk_work), work_pending(&sk_work) ? 1 : 0);
	queue_work(sk_queue, &sk_own_work);
	flush_workqueue(sk_queue);
	pr_info("sk_wq: flushed own queue: order=%d\n", sk_order);
	sk_armed = jiffies;
	schedule_delayed_work(&sk_delayed, 50);
	schedule_delayed_work(&sk_never, 10 * HZ);
	pr_info("sk_wq: cancel_delayed_work_sync of a pending one=%d, of an idle one=%d\n",
		cancel_delayed_work_sync(&sk_never), cancel_delayed_work_sync(&sk_never));
	return 0;
}

static void __exit sk_wq_exit(void)
{
	pr_info("sk_wq: exit: flush_work=%d cancel_work_sync=%d\n", flush_work(&sk_work),
		cancel_work_sync(&sk_work));
	cancel_delayed_work_sync(&sk_delayed);
	destroy_workqueue(sk_queue);
}

module_init(sk_wq_init);
module_exit(sk_wq_exit);
MODULE_LICENSE("GPL");
