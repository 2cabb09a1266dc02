// SPDX-License-Identifier: GPL-2.0
/* userread: /dev/userread returns one line of text to whoever reads it. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

static const char userread_msg[] = "hello from userread\n";

static ssize_t userread_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	size_t left;

	if (*ppos >= sizeof(userread_msg) - 1)
		return 0;			/* end of file */
	left = sizeof(userread_msg) - 1 - *ppos;
	if (len > left)
		len = left;
	/*
	 * TODO 1: buf is a user-space address. Writing through it directly, as
	 * the line below does, faults under SMAP. Copy with copy_to_user()
	 * instead, and return -EFAULT if it could not copy everything.
	 */
	memcpy((char __force *)buf, userread_msg + *ppos, len);
	*ppos += len;
	return len;
}

static const struct file_operations userread_fops = {
	.owner	= THIS_MODULE,
	.read	= userread_read,
	.llseek	= no_llseek,
};

static struct miscdevice userread_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "userread",
	.fops	= &userread_fops,
};

static int __init userread_init(void)
{
	return misc_register(&userread_misc);
}

static void __exit userread_exit(void)
{
	misc_deregister(&userread_misc);
}

module_init(userread_init);
module_exit(userread_exit);
MODULE_LICENSE("GPL");
