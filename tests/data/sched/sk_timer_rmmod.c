// SPDX-License-Identifier: GPL-2.0
/* A timer left armed when the module goes (exit arms it): it fires into freed memory. */
#include <linux/module.h>
#include <linux/timer.h>

static struct timer_list sk_forgotten;

static void sk_forgotten_fn(struct timer_list *t)
{
	pr_info("sk_timer_rmmod: fired\n");
}

static int __init sk_timer_rmmod_init(void)
{
	timer_setup(&sk_forgotten, sk_forgotten_fn, 0);
	return 0;
}

static void __exit sk_timer_rmmod_exit(void)
{
	mod_timer(&sk_forgotten, jiffies + HZ / 2);
	pr_info("sk_timer_rmmod: exit leaves its timer armed\n");
}

module_init(sk_timer_rmmod_init);
module_exit(sk_timer_rmmod_exit);
MODULE_LICENSE("GPL");
