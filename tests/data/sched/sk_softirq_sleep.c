// SPDX-License-Identifier: GPL-2.0
/* A timer callback that sleeps: msleep() in softirq context. */
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/delay.h>

static struct timer_list sk_sleeper;

static void sk_sleeper_fn(struct timer_list *t)
{
	pr_info("sk_softirq_sleep: callback sleeps, preempt_count=%x\n", preempt_count());
	msleep(10);
	pr_info("sk_softirq_sleep: callback woke, preempt_count=%x\n", preempt_count());
}

static int __init sk_softirq_sleep_init(void)
{
	timer_setup(&sk_sleeper, sk_sleeper_fn, 0);
	mod_timer(&sk_sleeper, jiffies + HZ / 10);
	return 0;
}

static void __exit sk_softirq_sleep_exit(void)
{
	del_timer_sync(&sk_sleeper);
}

module_init(sk_softirq_sleep_init);
module_exit(sk_softirq_sleep_exit);
MODULE_LICENSE("GPL");
