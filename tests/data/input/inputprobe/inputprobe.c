// SPDX-License-Identifier: GPL-2.0
/* inputprobe: the input core's allocate/register/event/unregister/free as drivers/input/input.c
 * does them on the lab's kernel (kcourse tests/test_kapi_input.py). */
#include <linux/input.h>
#include <linux/module.h>

static struct input_dev *a, *c;

static int __init inputprobe_init(void)
{
	struct input_dev *b, *d;
	int err;

	a = input_allocate_device();
	if (!a)
		return -ENOMEM;
	pr_info("inputprobe a: %s evbit %lx rep %d %d\n", dev_name(&a->dev), a->evbit[0],
		a->rep[REP_DELAY], a->rep[REP_PERIOD]);
	a->name = "kcourse probe keys";
	a->phys = "kcourse/input0";
	a->id.bustype = BUS_VIRTUAL;
	set_bit(EV_KEY, a->evbit);
	set_bit(KEY_A, a->keybit);
	set_bit(KEY_RESERVED, a->keybit);
	set_bit(REL_X, a->relbit); /* EV_REL is not in evbit: cleansed */
	err = input_register_device(a);
	pr_info("inputprobe register a: %d evbit %lx keybit %lx relbit %lx rep %d %d hint %u max_vals %u keycode ops %d\n",
		err, a->evbit[0], a->keybit[0], a->relbit[0], a->rep[REP_DELAY], a->rep[REP_PERIOD],
		a->hint_events_per_packet, a->max_vals, a->getkeycode && a->setkeycode);
	input_report_key(a, KEY_A, 1);
	input_report_key(a, KEY_B, 1); /* not in keybit: ignored */
	input_sync(a);
	pr_info("inputprobe keys: A %d B %d\n", test_bit(KEY_A, a->key), test_bit(KEY_B, a->key));
	input_report_key(a, KEY_A, 0);
	input_sync(a);
	input_event(a, EV_REP, REP_DELAY, 500); /* EV_REP is not in evbit: ignored */
	pr_info("inputprobe keys: A %d rep %d\n", test_bit(KEY_A, a->key), a->rep[REP_DELAY]);

	b = input_allocate_device();
	pr_info("inputprobe b: %s\n", dev_name(&b->dev));
	input_free_device(b);

	c = input_allocate_device();
	set_bit(EV_REL, c->evbit);
	set_bit(REL_X, c->relbit);
	set_bit(REL_Y, c->relbit);
	set_bit(EV_REP, c->evbit);
	c->rep[REP_PERIOD] = 10;
	err = input_register_device(c);
	pr_info("inputprobe register c: %d %s hint %u max_vals %u rep %d %d\n", err,
		dev_name(&c->dev), c->hint_events_per_packet, c->max_vals, c->rep[REP_DELAY],
		c->rep[REP_PERIOD]);
	input_event(c, EV_REP, REP_DELAY, 400);
	pr_info("inputprobe c rep %d\n", c->rep[REP_DELAY]);

	d = input_allocate_device();
	d->name = "abs";
	set_bit(EV_ABS, d->evbit);
	err = input_register_device(d);
	pr_info("inputprobe register d: %d\n", err);
	input_free_device(d);
	return 0;
}

static void __exit inputprobe_exit(void)
{
	input_unregister_device(c);
	input_unregister_device(a);
	pr_info("inputprobe exit\n");
}

module_init(inputprobe_init);
module_exit(inputprobe_exit);
MODULE_LICENSE("GPL");
