// SPDX-License-Identifier: GPL-2.0
/* The time helpers: jiffies conversions, delays and sleeps measured with ktime. */
#include <linux/module.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/delay.h>
#include <linux/timekeeping.h>

static volatile unsigned int sk_ms = 10, sk_us = 1500;

static int __init sk_time_init(void)
{
	ktime_t t0;
	s64 us;
	unsigned long j0;

	pr_info("sk_time: HZ=%d msecs_to_jiffies(%u)=%lu jiffies_to_msecs(3)=%u "
		"usecs_to_jiffies(%u)=%lu jiffies_to_usecs(1)=%u\n", HZ, sk_ms,
		msecs_to_jiffies(sk_ms), jiffies_to_msecs(3), sk_us, usecs_to_jiffies(sk_us),
		jiffies_to_usecs(1));
	pr_info("sk_time: jiffies past 5 minutes before boot: %d\n",
		time_after(jiffies, (unsigned long)INITIAL_JIFFIES));
	t0 = ktime_get();
	mdelay(10);
	us = ktime_us_delta(ktime_get(), t0);
	pr_info("sk_time: mdelay(10) took 9.9-11 ms: %d\n", us >= 9900 && us < 11000);
	t0 = ktime_get();
	udelay(500);
	us = ktime_us_delta(ktime_get(), t0);
	pr_info("sk_time: udelay(500) took 490-600 us: %d\n", us >= 490 && us < 600);
	j0 = jiffies;
	t0 = ktime_get();
	msleep(sk_ms);
	us = ktime_us_delta(ktime_get(), t0);
	pr_info("sk_time: msleep(10) took %lu jiffies, more than 16 ms: %d\n", jiffies - j0,
		us > 16000);
	t0 = ktime_get();
	usleep_range(1000, 2000);
	us = ktime_us_delta(ktime_get(), t0);
	pr_info("sk_time: usleep_range(1000, 2000) took at least 1 ms: %d\n", us >= 1000);
	j0 = jiffies;
	ssleep(1);
	pr_info("sk_time: ssleep(1) took at least 252 jiffies: %d\n", jiffies - j0 >= 252);
	pr_info("sk_time: ktime_get_real past 2020: %d, boottime >= monotonic: %d\n",
		ktime_get_real_seconds() > 1577836800LL,
		ktime_get_boottime_ns() >= ktime_get_ns());
	return 0;
}

static void __exit sk_time_exit(void)
{
}

module_init(sk_time_init);
module_exit(sk_time_exit);
MODULE_LICENSE("GPL");
