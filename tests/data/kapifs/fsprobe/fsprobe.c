// SPDX-License-Identifier: GPL-2.0
/*
 * fsprobe: the file APIs a module calls, each with a behaviour to compare between the
 * simulator and Debian's real kernel (tests/test_kapi_fs_real.py, script.sh, real.expected).
 */
#include <linux/cdev.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

/* ---- /proc/fsprobe_big: seq_file, 2000 records and one of 10000 bytes (buffer growth) */
static void *big_start(struct seq_file *m, loff_t *pos)
{
	return *pos < 2001 ? pos : NULL;
}

static void *big_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return *pos < 2001 ? pos : NULL;
}

static void big_stop(struct seq_file *m, void *v)
{
}

static int big_show(struct seq_file *m, void *v)
{
	loff_t i = *(loff_t *)v;

	if (i == 1000) {
		int j;

		for (j = 0; j < 1000; j++)
			seq_puts(m, "0123456789");
		seq_putc(m, '\n');
		return 0;
	}
	seq_printf(m, "record %lld of %d\n", i, 2000);
	return 0;
}

static const struct seq_operations big_ops = {
	.start = big_start, .next = big_next, .stop = big_stop, .show = big_show,
};

static int big_open(struct inode *inode, struct file *file)
{
	return seq_open(file, &big_ops);
}

static const struct proc_ops big_proc_ops = {
	.proc_open = big_open, .proc_read = seq_read, .proc_lseek = seq_lseek,
	.proc_release = seq_release,
};

/* ---- /proc/fsprobe_buggy: a ->next that does not move the position */
static int buggy_data[3] = { 10, 20, 30 };

static void *buggy_start(struct seq_file *m, loff_t *pos)
{
	return *pos < 3 ? &buggy_data[*pos] : NULL;
}

static void *buggy_next(struct seq_file *m, void *v, loff_t *pos)
{
	return NULL;
}

static int buggy_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", *(int *)v);
	return 0;
}

static const struct seq_operations buggy_ops = {
	.start = buggy_start, .next = buggy_next, .stop = big_stop, .show = buggy_show,
};

/* ---- read-only, write-only and released /proc files */
static ssize_t ro_read(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
	return simple_read_from_buffer(buf, n, pos, "read only\n", 10);
}

static const struct proc_ops ro_ops = { .proc_read = ro_read };

static ssize_t wo_write(struct file *f, const char __user *buf, size_t n, loff_t *pos)
{
	pr_info("fsprobe: wo took %zu bytes\n", n);
	return n;
}

static const struct proc_ops wo_ops = { .proc_write = wo_write };

static int rel_open(struct inode *inode, struct file *file)
{
	pr_info("fsprobe: rel open, data %s\n", (char *)pde_data(inode));
	return 0;
}

static int rel_release(struct inode *inode, struct file *file)
{
	pr_info("fsprobe: rel release\n");
	return 0;
}

static const struct proc_ops rel_ops = {
	.proc_open = rel_open, .proc_read = ro_read, .proc_release = rel_release,
};

static int single_show_fn(struct seq_file *m, void *v)
{
	seq_printf(m, "single %s\n", (char *)m->private);
	return 0;
}

static char rel_data[] = "pde";
static char single_data[] = "private";
static struct proc_dir_entry *dir;

/* ---- character devices */
static dev_t base;
static struct cdev probe_cdev;
static struct class *cls;
static int second_major;

static int dev_open(struct inode *inode, struct file *file)
{
	pr_info("fsprobe: open minor %u\n", iminor(inode));
	return 0;
}

static ssize_t dev_read(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "minor %u\n", iminor(file_inode(f)));

	return simple_read_from_buffer(buf, n, pos, text, len);
}

static const struct file_operations dev_fops = {
	.owner = THIS_MODULE, .open = dev_open, .read = dev_read,
};

static const struct file_operations noread_fops = { .open = dev_open };

/* ---- sysfs: /sys/kernel/fsprobe/grp/{a,b,c} */
static struct kobject *kobj;
static int a_value = 7;

static ssize_t a_show(struct kobject *k, struct kobj_attribute *attr, char *buf)
{
	return sprintf(buf, "%d\n", a_value);
}

static ssize_t a_store(struct kobject *k, struct kobj_attribute *attr, const char *buf,
		       size_t count)
{
	int err = kstrtoint(buf, 10, &a_value);

	return err ? err : count;
}

static ssize_t b_show(struct kobject *k, struct kobj_attribute *attr, char *buf)
{
	return sprintf(buf, "b is %s\n", attr->attr.name);
}

static ssize_t c_store(struct kobject *k, struct kobj_attribute *attr, const char *buf,
		       size_t count)
{
	pr_info("fsprobe: c got %zu bytes\n", count);
	return count;
}

static struct kobj_attribute a_attr = __ATTR(a, 0644, a_show, a_store);
static struct kobj_attribute b_attr = __ATTR(b, 0444, b_show, NULL);
static struct kobj_attribute c_attr = __ATTR(c, 0200, NULL, c_store);
static struct kobj_attribute d_attr = __ATTR(d, 0444, b_show, NULL);
static struct attribute *grp_attrs[] = { &a_attr.attr, &b_attr.attr, &c_attr.attr,
					 &d_attr.attr, NULL };

static umode_t grp_visible(struct kobject *k, struct attribute *attr, int n)
{
	return n == 3 ? 0 : attr->mode;
}

static const struct attribute_group grp = {
	.name = "grp", .attrs = grp_attrs, .is_visible = grp_visible,
};

/* ---- debugfs */
static struct dentry *ddir;
static u32 dbg_u32 = 5;
static u32 dbg_x32 = 0xbeef;
static bool dbg_bool = true;
static u8 dbg_u8 = 200;

static int __init fsprobe_init(void)
{
	int err;

	if (!proc_create("fsprobe_big", 0, NULL, &big_proc_ops) ||
	    !proc_create_seq("fsprobe_buggy", 0444, NULL, &buggy_ops) ||
	    !proc_create("fsprobe_ro", 0644, NULL, &ro_ops) ||
	    !proc_create("fsprobe_wo", 0200, NULL, &wo_ops) ||
	    !proc_create_data("fsprobe_rel", 0444, NULL, &rel_ops, rel_data))
		return -ENOMEM;
	dir = proc_mkdir("fsprobe_dir", NULL);
	if (!dir || !proc_create_single_data("single", 0, dir, single_show_fn, single_data))
		return -ENOMEM;

	err = alloc_chrdev_region(&base, 0, 2, "fsprobe");
	pr_info("fsprobe: alloc_chrdev_region %d, major %d\n", err, MAJOR(base));
	cdev_init(&probe_cdev, &dev_fops);
	probe_cdev.owner = THIS_MODULE;
	err = cdev_add(&probe_cdev, base, 2);
	second_major = register_chrdev(0, "fsprobe_b", &noread_fops);
	pr_info("fsprobe: cdev_add %d, second major %d\n", err, second_major);
	pr_info("fsprobe: fixed major 254: %d\n", register_chrdev(254, "fsprobe_c",
								   &noread_fops));
	cls = class_create(THIS_MODULE, "fsprobe");
	device_create(cls, NULL, MKDEV(MAJOR(base), 0), NULL, "fsprobe%d", 0);
	device_create(cls, NULL, MKDEV(MAJOR(base), 1), NULL, "fsprobe%d", 1);
	device_create(cls, NULL, MKDEV(second_major, 0), NULL, "fsprobe_b");
	device_create(cls, NULL, MKDEV(MAJOR(base), 5), NULL, "fsprobe_nocdev");

	kobj = kobject_create_and_add("fsprobe", kernel_kobj);
	if (!kobj)
		return -ENOMEM;
	pr_info("fsprobe: sysfs_create_group %d\n", sysfs_create_group(kobj, &grp));

	ddir = debugfs_create_dir("fsprobe", NULL);
	debugfs_create_u32("u32", 0644, ddir, &dbg_u32);
	debugfs_create_x32("x32", 0644, ddir, &dbg_x32);
	debugfs_create_bool("bool", 0644, ddir, &dbg_bool);
	debugfs_create_u8("u8", 0444, ddir, &dbg_u8);
	return 0;
}

static void __exit fsprobe_exit(void)
{
	debugfs_remove(ddir);
	kobject_put(kobj);
	device_destroy(cls, MKDEV(MAJOR(base), 5));
	device_destroy(cls, MKDEV(second_major, 0));
	device_destroy(cls, MKDEV(MAJOR(base), 1));
	device_destroy(cls, MKDEV(MAJOR(base), 0));
	class_destroy(cls);
	unregister_chrdev(second_major, "fsprobe_b");
	cdev_del(&probe_cdev);
	unregister_chrdev_region(base, 2);
	proc_remove(dir);
	remove_proc_entry("fsprobe_rel", NULL);
	remove_proc_entry("fsprobe_wo", NULL);
	remove_proc_entry("fsprobe_ro", NULL);
	remove_proc_entry("fsprobe_buggy", NULL);
	remove_proc_entry("fsprobe_big", NULL);
	pr_info("fsprobe: exit, u32 %u x32 %x bool %d\n", dbg_u32, dbg_x32, dbg_bool);
}

module_init(fsprobe_init);
module_exit(fsprobe_exit);
MODULE_LICENSE("GPL");
