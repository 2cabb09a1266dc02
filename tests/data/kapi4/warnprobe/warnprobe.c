// SPDX-License-Identifier: GPL-2.0
/* warnprobe: WARN() with a message (__warn_printk), the refcount_t saturation warnings
 * (lib/refcount.c), ___ratelimit (lib/ratelimit.c) over jiffies, and the preemptible RCU
 * read-side nesting count (kernel/rcu/tree_plugin.h); the ratelimit_state layout as gcc
 * compiles it against the pinned headers. */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/stddef.h>

static DEFINE_RATELIMIT_STATE(rs, HZ, 3);
static int passed;

static int __init warnprobe_init(void)
{
	refcount_t r = REFCOUNT_INIT(1);
	int i;

	pr_info("warnprobe layout: %zu %zu %zu %zu %zu %zu %zu\n", sizeof(rs),
		offsetof(struct ratelimit_state, interval), offsetof(struct ratelimit_state, burst),
		offsetof(struct ratelimit_state, printed), offsetof(struct ratelimit_state, missed),
		offsetof(struct ratelimit_state, begin), offsetof(struct ratelimit_state, flags));
	WARN(1, "warnprobe says %d\n", 7);
	for (i = 0; i < 2; i++)
		WARN_ONCE(1, "warnprobe once %d\n", i);
	pr_info("warnprobe after warn\n");

	refcount_dec(&r);
	pr_info("warnprobe refcount %d\n", refcount_read(&r));
	refcount_set(&r, 0);
	refcount_inc(&r);
	pr_info("warnprobe refcount %d\n", refcount_read(&r));
	refcount_set(&r, 0);
	pr_info("warnprobe dec_and_test %d refcount %d\n", refcount_dec_and_test(&r),
		refcount_read(&r));
	refcount_set(&r, 0);
	refcount_dec(&r);
	pr_info("warnprobe refcount %d\n", refcount_read(&r));

	for (i = 0; i < 10; i++)
		if (__ratelimit(&rs))
			passed++;
	pr_info("warnprobe ratelimit passed %d printed %d missed %d\n", passed, rs.printed,
		rs.missed);
	msleep(1100);
	pr_info("warnprobe ratelimit again %d\n", __ratelimit(&rs));
	pr_info("warnprobe ratelimit printed %d missed %d\n", rs.printed, rs.missed);

	pr_info("warnprobe rcu %d\n", rcu_preempt_depth());
	rcu_read_lock();
	rcu_read_lock();
	pr_info("warnprobe rcu %d\n", rcu_preempt_depth());
	rcu_read_unlock();
	pr_info("warnprobe rcu %d\n", rcu_preempt_depth());
	rcu_read_unlock();
	pr_info("warnprobe rcu %d\n", rcu_preempt_depth());
	return 0;
}

static void __exit warnprobe_exit(void)
{
}

module_init(warnprobe_init);
module_exit(warnprobe_exit);
MODULE_LICENSE("GPL");
