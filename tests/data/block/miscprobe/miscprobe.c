// SPDX-License-Identifier: GPL-2.0
/* miscprobe: a dynamic misc minor, and a fixed one the guest holds (drivers/char/misc.c) */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
static const struct file_operations fops = { .owner = THIS_MODULE };
static struct miscdevice a = { .minor = MISC_DYNAMIC_MINOR, .name = "misca", .fops = &fops };
static struct miscdevice b = { .minor = 1, .name = "miscb", .fops = &fops };
static struct miscdevice c = { .minor = MISC_DYNAMIC_MINOR, .name = "hpet", .fops = &fops };
static int __init m_init(void)
{
	int ret = misc_register(&a);
	pr_info("miscprobe %d minor %d fixed %d\n", ret, a.minor, misc_register(&b));
	pr_info("miscprobe hpet %d minor %d\n", misc_register(&c), c.minor);
	return ret;
}
static void __exit m_exit(void) { misc_deregister(&a); }
module_init(m_init);
module_exit(m_exit);
MODULE_LICENSE("GPL");
