// SPDX-License-Identifier: GPL-2.0
/*
 * unwind: init takes three steps: a buffer, a misc device (/dev/unwind), then a
 * check of the (imaginary) hardware, which fails when loaded with fail=1. When a
 * step fails, init must undo the steps before it, in reverse order, and return
 * the error: the kernel calls no exit function for a module whose init failed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>

static bool fail;
module_param(fail, bool, 0444);
MODULE_PARM_DESC(fail, "make step 3 (the hardware check) fail with -ENODEV");

static void *unwind_buf;

static const struct file_operations unwind_fops = {
	.owner	= THIS_MODULE,
};

static struct miscdevice unwind_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "unwind",
	.fops	= &unwind_fops,
};

/* Step 3: stands for asking a device whether it is there. */
static int unwind_probe(void)
{
	return fail ? -ENODEV : 0;
}

static int __init unwind_init(void)
{
	int err;

	unwind_buf = kmalloc(4000, GFP_KERNEL);		/* step 1 */
	if (!unwind_buf)
		return -ENOMEM;
	pr_info("buffer allocated\n");

	err = misc_register(&unwind_misc);		/* step 2 */
	if (err)
		return err;	/* TODO 1: undo step 1 first (goto a label) */
	pr_info("device registered\n");

	err = unwind_probe();				/* step 3 */
	if (err)
		return err;	/* TODO 2: undo steps 2 and 1 first (goto a label) */
	pr_info("ready\n");
	return 0;

	/*
	 * TODO 3: the labels, one per step to undo, in reverse order of the steps,
	 * each falling through to the next, the last one returning err.
	 */
}

static void __exit unwind_exit(void)
{
	misc_deregister(&unwind_misc);
	kfree(unwind_buf);
	pr_info("gone\n");
}

module_init(unwind_init);
module_exit(unwind_exit);
MODULE_LICENSE("GPL");
