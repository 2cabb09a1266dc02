// SPDX-License-Identifier: GPL-2.0
/* A tasklet scheduled from init runs at the next tick's softirq, inside init's mdelay
 * (LKMPG example_tasklet with the times and contexts printed). */
#include <linux/module.h>
#include <linux/interrupt.h>
#include <linux/delay.h>
#include <linux/ktime.h>

static ktime_t sk_start;
static int sk_runs;

static long sk_ms(void)
{
	return (long)ktime_to_ms(ktime_sub(ktime_get(), sk_start));
}

static void sk_tasklet_fn(struct tasklet_struct *t)
{
	sk_runs++;
	pr_info("sk_tasklet: starts after %ld ms/100 in_softirq=%d in_interrupt=%d in_task=%d\n",
		sk_ms() / 100, in_softirq() ? 1 : 0, in_interrupt() ? 1 : 0, in_task() ? 1 : 0);
	mdelay(1000);
	pr_info("sk_tasklet: ends after at least 0.9 s: %d\n", sk_ms() >= 900);
}

static DECLARE_TASKLET(sk_task, sk_tasklet_fn);

static int __init sk_tasklet_init(void)
{
	sk_start = ktime_get();
	tasklet_schedule(&sk_task);
	tasklet_schedule(&sk_task);
	pr_info("sk_tasklet: scheduled twice, state=%lx\n", sk_task.state);
	mdelay(350);
	pr_info("sk_tasklet: init continues after the tasklet's second: %d, runs=%d state=%lx\n",
		sk_ms() >= 1000, sk_runs, sk_task.state);
	return 0;
}

static void __exit sk_tasklet_exit(void)
{
	tasklet_kill(&sk_task);
	pr_info("sk_tasklet: exit, runs=%d\n", sk_runs);
}

module_init(sk_tasklet_init);
module_exit(sk_tasklet_exit);
MODULE_LICENSE("GPL");
