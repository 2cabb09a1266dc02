// SPDX-License-Identifier: GPL-2.0
/*
 * dupprobe: names taken and numbers refused - what the kernel says when a module asks for
 * a /proc entry, class, kobject, debugfs directory or device number it cannot have.
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>

static const struct proc_ops ops = {};
static struct proc_dir_entry *dir;
static struct dentry *ddir;
static dev_t a, b, c;

static int __init dupprobe_init(void)
{
	struct class *cls;
	struct kobject *kobj;
	struct dentry *d;

	pr_info("dupprobe: first %d\n", proc_create("dupe", 0644, NULL, &ops) != NULL);
	pr_info("dupprobe: second %d\n", proc_create("dupe", 0644, NULL, &ops) != NULL);
	pr_info("dupprobe: modules %d\n", proc_create("modules", 0444, NULL, &ops) != NULL);
	pr_info("dupprobe: number %d\n", proc_create("12", 0444, NULL, &ops) != NULL);
	remove_proc_entry("nonexistent", NULL);
	dir = proc_mkdir("dupdir", NULL);
	pr_info("dupprobe: in dir %d\n", proc_create("dupdir/f", 0, NULL, &ops) != NULL);
	pr_info("dupprobe: no dir %d\n", proc_create("nodir/f", 0, NULL, &ops) != NULL);

	cls = class_create(THIS_MODULE, "misc");
	pr_info("dupprobe: class misc %d\n", PTR_ERR_OR_ZERO(cls));
	kobj = kobject_create_and_add("kernel", NULL);
	pr_info("dupprobe: kobject kernel %d\n", kobj != NULL);

	ddir = debugfs_create_dir("dupd", NULL);
	d = debugfs_create_dir("dupd", NULL);
	pr_info("dupprobe: debugfs again %d\n", PTR_ERR_OR_ZERO(d));

	pr_info("dupprobe: ttyS range %d\n", register_chrdev_region(MKDEV(4, 70), 1, "dupS"));
	pr_info("dupprobe: rtc minor 100 %d\n", register_chrdev_region(MKDEV(251, 100), 1,
									 "duprtc"));
	pr_info("dupprobe: major 600 %d\n", register_chrdev_region(MKDEV(600, 0), 1, "dupbig"));
	alloc_chrdev_region(&a, 0, 1, "dupa");
	alloc_chrdev_region(&b, 0, 1, "dupb");
	unregister_chrdev_region(a, 1);
	alloc_chrdev_region(&c, 0, 1, "dupc");
	pr_info("dupprobe: majors %d %d %d\n", MAJOR(a), MAJOR(b), MAJOR(c));
	return 0;
}

static void __exit dupprobe_exit(void)
{
	unregister_chrdev_region(MKDEV(251, 100), 1);
	unregister_chrdev_region(b, 1);
	unregister_chrdev_region(c, 1);
	debugfs_remove(ddir);
	proc_remove(dir);
	remove_proc_entry("dupe", NULL);
}

module_init(dupprobe_init);
module_exit(dupprobe_exit);
MODULE_LICENSE("GPL");
