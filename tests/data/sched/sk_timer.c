// SPDX-License-Identifier: GPL-2.0
/* Timers on the wheel: when each fires (kernel/time/timer.c calc_wheel_index), in which
 * context, in which order (kcourse tests/test_kapi_sched.py). */
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/jiffies.h>
#include <linux/sched.h>

struct sk_timer {
	struct timer_list timer;
	const char *name;
	unsigned long armed_at, bucket;
	int rearm;
};

static struct sk_timer sk_timers[5];

/* The bucket calc_index() puts an expiry in: rounded up at the level's granularity. */
static unsigned long sk_bucket(unsigned long expires, unsigned long clk)
{
	unsigned long delta = expires - clk;
	int lvl = 0;

	while (lvl < 8 && delta >= (63UL << (lvl * 3)))
		lvl++;
	return ((expires >> (lvl * 3)) + 1) << (lvl * 3);
}

static void sk_fire(struct timer_list *t)
{
	struct sk_timer *s = from_timer(s, t, timer);

	pr_info("sk_timer: %s fired %ld jiffies after arming, %ld after its bucket; "
		"in_softirq=%d in_task=%d pending=%d\n", s->name, (long)(jiffies - s->armed_at),
		(long)(jiffies - s->bucket), in_softirq() ? 1 : 0, in_task() ? 1 : 0,
		timer_pending(t) ? 1 : 0);
	if (s->rearm) {
		s->rearm = 0;
		s->armed_at = jiffies;
		s->bucket = sk_bucket(jiffies + 20, jiffies + 1);
		mod_timer(t, jiffies + 20);
		pr_info("sk_timer: %s re-armed from its callback: pending=%d\n", s->name,
			timer_pending(t) ? 1 : 0);
	}
}

static void sk_arm(int i, const char *name, unsigned long delay, int rearm)
{
	struct sk_timer *s = &sk_timers[i];

	s->name = name;
	s->rearm = rearm;
	timer_setup(&s->timer, sk_fire, 0);
	s->armed_at = jiffies;
	s->bucket = sk_bucket(jiffies + delay, jiffies);
	mod_timer(&s->timer, jiffies + delay);
}

static int __init sk_timer_init(void)
{
	int ret;

	sk_arm(0, "short", 10, 0);
	sk_arm(1, "half-second", HZ / 2, 1);
	sk_arm(2, "two-seconds", 2 * HZ, 0);
	sk_arm(3, "cancelled", HZ, 0);
	sk_arm(4, "moved", HZ, 0);
	pr_info("sk_timer: armed; pending=%d\n", timer_pending(&sk_timers[0].timer) ? 1 : 0);
	ret = del_timer(&sk_timers[3].timer);
	pr_info("sk_timer: del_timer of a pending timer returns %d, then %d\n", ret,
		del_timer(&sk_timers[3].timer));
	ret = mod_timer(&sk_timers[4].timer, jiffies + HZ / 4);
	sk_timers[4].armed_at = jiffies;
	sk_timers[4].bucket = sk_bucket(jiffies + HZ / 4, jiffies);
	pr_info("sk_timer: mod_timer of a pending timer returns %d\n", ret);
	return 0;
}

static void __exit sk_timer_exit(void)
{
	int i;

	for (i = 0; i < 5; i++)
		pr_info("sk_timer: exit: del_timer_sync(%s) = %d\n", sk_timers[i].name,
			del_timer_sync(&sk_timers[i].timer));
}

module_init(sk_timer_init);
module_exit(sk_timer_exit);
MODULE_LICENSE("GPL");
