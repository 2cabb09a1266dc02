// SPDX-License-Identifier: GPL-2.0
/*
 * leakprobe: files left behind by a module that has no exit, removed with rmmod -f: the
 * entries stay, and using them runs into the freed module (the kernel oopses where it reads).
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/fs.h>
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/debugfs.h>
static ssize_t r(struct file *f, char __user *b, size_t n, loff_t *p) { return 0; }
static const struct proc_ops ops = { .proc_read = r };
static const struct file_operations fops = { .owner = THIS_MODULE, .read = r };
static ssize_t s(struct kobject *k, struct kobj_attribute *a, char *buf) { return sprintf(buf, "x\n"); }
static struct kobj_attribute at = __ATTR(at, 0444, s, NULL);
static u32 v;
static int __init leakprobe_init(void)
{
	struct class *c;
	int major = register_chrdev(0, "leakprobe", &fops);
	proc_create("leakprobe", 0444, NULL, &ops);
	c = class_create(THIS_MODULE, "leakprobe");
	device_create(c, NULL, MKDEV(major, 0), NULL, "leakprobe");
	if (sysfs_create_file(kobject_create_and_add("leakprobe", kernel_kobj), &at.attr))
		return -ENOMEM;
	debugfs_create_u32("leakprobe", 0444, NULL, &v);
	return 0;
}
module_init(leakprobe_init);
MODULE_LICENSE("GPL");
