// SPDX-License-Identifier: GPL-2.0
/* irqprobe: request_threaded_irq and free_irq (kernel/irq/manage.c) on the lab machine's
 * interrupt lines: a free ISA line, one the guest's i8042 holds unshared, a number with no
 * descriptor, a shared request without dev_id, a threaded handler, and freeing twice. */
#include <linux/interrupt.h>
#include <linux/module.h>

static int token_a, token_b, token_c, token_line[16];

static irqreturn_t handler(int irq, void *dev)
{
	pr_info("irqprobe handler %d\n", irq);
	return IRQ_HANDLED;
}

static irqreturn_t thread_fn(int irq, void *dev)
{
	pr_info("irqprobe thread %d\n", irq);
	return IRQ_HANDLED;
}

static int __init irqprobe_init(void)
{
	int ret;
	const void *name;

	ret = request_irq(5, handler, 0, "irqprobe-a", &token_a);
	pr_info("irqprobe free line %d\n", ret);
	ret = request_irq(5, handler, IRQF_SHARED, "irqprobe-b", &token_b);
	pr_info("irqprobe same line shared %d\n", ret);
	ret = request_irq(1, handler, 0, "irqprobe-kbd", &token_b);
	pr_info("irqprobe i8042 line %d\n", ret);
	ret = request_irq(1, handler, IRQF_SHARED, "irqprobe-kbd", &token_b);
	pr_info("irqprobe i8042 shared %d\n", ret);
	ret = request_irq(200, handler, 0, "irqprobe-none", &token_b);
	pr_info("irqprobe no desc %d\n", ret);
	ret = request_irq(7, handler, IRQF_SHARED, "irqprobe-nodev", NULL);
	pr_info("irqprobe shared no dev %d\n", ret);
	ret = request_irq(7, NULL, 0, "irqprobe-nohandler", &token_c);
	pr_info("irqprobe no handler %d\n", ret);
	ret = request_threaded_irq(10, NULL, thread_fn, IRQF_ONESHOT, "irqprobe-t", &token_c);
	pr_info("irqprobe threaded %d\n", ret);
	ret = request_threaded_irq(11, NULL, thread_fn, 0, "irqprobe-t2", &token_c);
	pr_info("irqprobe threaded no oneshot %d\n", ret);
	ret = request_irq(3, handler, IRQF_SHARED, "irqprobe-s1", &token_a);
	pr_info("irqprobe shared one %d\n", ret);
	ret = request_irq(3, handler, IRQF_SHARED, "irqprobe-s2", &token_b);
	pr_info("irqprobe shared two %d\n", ret);
	for (ret = 0; ret <= 15; ret++)
		if (ret != 2 && ret != 1 && ret != 3 && ret != 5 && ret != 10)
			pr_info("irqprobe line %d: %d\n", ret,
				request_irq(ret, handler, 0, "irqprobe-line", &token_line[ret]));
	name = free_irq(3, &token_a);
	pr_info("irqprobe free s1 %s\n", name ? (const char *)name : "(none)");
	name = free_irq(3, &token_a);
	pr_info("irqprobe free s1 again %s\n", name ? (const char *)name : "(none)");
	name = free_irq(200, &token_a);
	pr_info("irqprobe free no desc %s\n", name ? (const char *)name : "(none)");
	return 0;
}

static void __exit irqprobe_exit(void)
{
	int i;
	const void *k = free_irq(1, &token_b);
	const void *a = free_irq(5, &token_a);
	const void *b = free_irq(3, &token_b);
	const void *c = free_irq(10, &token_c);

	for (i = 0; i <= 15; i++)
		if (i != 2 && i != 1 && i != 3 && i != 5 && i != 10 && free_irq(i, &token_line[i]))
			pr_info("irqprobe freed line %d\n", i);
	pr_info("irqprobe exit %s %s %s %s\n", (const char *)k, (const char *)a, (const char *)b,
		(const char *)c);
}

module_init(irqprobe_init);
module_exit(irqprobe_exit);
MODULE_LICENSE("GPL");
