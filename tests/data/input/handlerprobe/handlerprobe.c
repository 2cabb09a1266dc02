// SPDX-License-Identifier: GPL-2.0
/* handlerprobe: an input device the guest's mousedev (which=0) or input-leds (which=1)
 * handler connects to, making files (kcourse tests/test_kapi_input.py). */
#include <linux/input.h>
#include <linux/module.h>

static int which;
module_param(which, int, 0);
static struct input_dev *dev;

static int __init handlerprobe_init(void)
{
	int err;

	dev = input_allocate_device();
	if (!dev)
		return -ENOMEM;
	dev->name = "handlerprobe";
	if (which == 0) {
		set_bit(EV_KEY, dev->evbit);
		set_bit(EV_REL, dev->evbit);
		set_bit(BTN_LEFT, dev->keybit);
		set_bit(REL_X, dev->relbit);
		set_bit(REL_Y, dev->relbit);
	} else {
		set_bit(EV_KEY, dev->evbit);
		set_bit(EV_LED, dev->evbit);
		set_bit(KEY_A, dev->keybit);
		set_bit(LED_CAPSL, dev->ledbit);
	}
	err = input_register_device(dev);
	if (err)
		input_free_device(dev);
	return err;
}

static void __exit handlerprobe_exit(void)
{
	input_unregister_device(dev);
}

module_init(handlerprobe_init);
module_exit(handlerprobe_exit);
MODULE_LICENSE("GPL");
