// SPDX-License-Identifier: GPL-2.0
/*
 * whoami.c - which task runs a module's code? Whichever one called it: the kernel is not a
 * process, and a module has no process of its own.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>

static ssize_t whoami_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	pr_info("whoami: read() runs in %s\n", current->comm);
	return 0;
}

static const struct file_operations whoami_fops = {
	.owner	= THIS_MODULE,
	.read	= whoami_read,
};

static struct miscdevice whoami_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "whoami",
	.fops	= &whoami_fops,
};

static int __init whoami_init(void)
{
	pr_info("whoami: init runs in %s\n", current->comm);
	return misc_register(&whoami_dev);
}

static void __exit whoami_exit(void)
{
	misc_deregister(&whoami_dev);
	pr_info("whoami: exit runs in %s\n", current->comm);
}

module_init(whoami_init);
module_exit(whoami_exit);
MODULE_LICENSE("GPL");
