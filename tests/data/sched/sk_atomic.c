// SPDX-License-Identifier: GPL-2.0
/* Sleeping with a spinlock held: msleep() under spin_lock() (kcourse tests/test_kapi_sched.py). */
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(sk_lock);

static int __init sk_atomic_init(void)
{
	pr_info("sk_atomic: before lock: preempt_count=%x\n", preempt_count());
	spin_lock(&sk_lock);
	pr_info("sk_atomic: locked: preempt_count=%x in_atomic=%d\n", preempt_count(),
		in_atomic() ? 1 : 0);
	msleep(20);
	pr_info("sk_atomic: after msleep: preempt_count=%x\n", preempt_count());
	spin_unlock(&sk_lock);
	pr_info("sk_atomic: unlocked: preempt_count=%x\n", preempt_count() & 0xff);
	return 0;
}

static void __exit sk_atomic_exit(void)
{
	pr_info("sk_atomic: exit preempt_count=%x\n", preempt_count());
}

module_init(sk_atomic_init);
module_exit(sk_atomic_exit);
MODULE_LICENSE("GPL");
