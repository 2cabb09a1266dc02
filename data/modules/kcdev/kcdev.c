// SPDX-License-Identifier: GPL-2.0
/*
 * kcdev.c - a character device (/dev/kcdev) whose open files pin the module.
 *
 * What it teaches:
 *   - A misc device: misc_register() gets a minor number under major 10 and
 *     makes devtmpfs/udev create /dev/kcdev.
 *   - .owner = THIS_MODULE in the file_operations. When /dev/kcdev is opened,
 *     misc_open() (drivers/char/misc.c) calls fops_get(), which is
 *     try_module_get(fops->owner): every open file holds one reference to
 *     this module. While a file is open, lsmod shows "kcdev ... 1" and
 *     `rmmod kcdev` is refused ("rmmod: ERROR: Module kcdev is in use").
 *     The reference is dropped (module_put through fops_put) after
 *     kcdev_release() returns, when the last descriptor is closed.
 *   - read() copies into the user's buffer with copy_to_user(), never with a
 *     plain pointer dereference (compare ../baduser).
 *
 * Prints:
 *   on load:   "kcdev: /dev/kcdev registered"
 *   on open:   "kcdev: open, refcnt=<n>"   (n includes this file: 1 for the first open)
 *   on close:  "kcdev: release"
 *   on unload: "kcdev: /dev/kcdev removed"
 * read() prints nothing; it returns the 17 bytes "hello from kcdev\n", then 0 (end of file).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

static const char kcdev_msg[] = "hello from kcdev\n";

static int kcdev_open(struct inode *inode, struct file *file)
{
	/* misc_open() has already taken our module reference for this file. */
	pr_info("open, refcnt=%d\n", module_refcount(THIS_MODULE));
	return 0;
}

static int kcdev_release(struct inode *inode, struct file *file)
{
	pr_info("release\n");
	return 0;
}

static ssize_t kcdev_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	size_t left;

	if (*ppos >= sizeof(kcdev_msg) - 1)
		return 0;			/* end of file */
	left = sizeof(kcdev_msg) - 1 - *ppos;
	if (len > left)
		len = left;
	/* copy_to_user() returns the number of bytes it could NOT copy. */
	if (copy_to_user(buf, kcdev_msg + *ppos, len))
		return -EFAULT;
	*ppos += len;
	return len;
}

static const struct file_operations kcdev_fops = {
	.owner		= THIS_MODULE,	/* what makes open files pin the module */
	.open		= kcdev_open,
	.release	= kcdev_release,
	.read		= kcdev_read,
	.llseek		= no_llseek,
};

static struct miscdevice kcdev_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kcdev",
	.fops	= &kcdev_fops,
};

static int __init kcdev_init(void)
{
	int err = misc_register(&kcdev_misc);

	if (err)
		return err;
	pr_info("/dev/kcdev registered\n");
	return 0;
}

static void __exit kcdev_exit(void)
{
	misc_deregister(&kcdev_misc);
	pr_info("/dev/kcdev removed\n");
}

module_init(kcdev_init);
module_exit(kcdev_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A misc device whose open files hold a module reference");
MODULE_LICENSE("GPL");
