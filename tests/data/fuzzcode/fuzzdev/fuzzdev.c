// SPDX-License-Identifier: GPL-2.0
/*
 * fuzzdev.c - a target for tests/test_fuzz_code.py: a misc device whose read, write, open
 * and release run real code paths (mutex, kmalloc, copy_from_user, simple_read_from_buffer,
 * kstrtoint, scnprintf, module parameters), so mutating its .text exercises them all.
 *
 * Prints:
 *   on load:   "fuzzdev: /dev/fuzzdev ready (<size> bytes, greeting <greeting>)"
 *   on open:   "fuzzdev: open"
 *   on write:  "fuzzdev: wrote <n> bytes, total <t>"
 *   on close:  "fuzzdev: release"
 *   on unload: "fuzzdev: gone after <t>"
 * read() returns "<greeting> <total> <used>\n" followed by what was last written.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static int size = 256;
module_param(size, int, 0444);
static char *greeting = "fuzz";
module_param(greeting, charp, 0444);

static DEFINE_MUTEX(lock);
static char *store;
static size_t used;
static int total;

static int fuzzdev_open(struct inode *inode, struct file *file)
{
	pr_info("open\n");
	return 0;
}

static int fuzzdev_release(struct inode *inode, struct file *file)
{
	pr_info("release\n");
	return 0;
}

static ssize_t fuzzdev_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char line[64];
	loff_t rest;
	ssize_t ret;
	int n;

	mutex_lock(&lock);
	n = scnprintf(line, sizeof(line), "%s %d %zu\n", greeting, total, used);
	if (*ppos < n) {
		ret = simple_read_from_buffer(buf, len, ppos, line, n);
	} else {
		rest = *ppos - n;
		ret = simple_read_from_buffer(buf, len, &rest, store, used);
		if (ret > 0)
			*ppos += ret;
	}
	mutex_unlock(&lock);
	return ret;
}

static ssize_t fuzzdev_write(struct file *file, const char __user *buf, size_t len,
			     loff_t *ppos)
{
	size_t n = min_t(size_t, len, size - 1);
	int value;

	mutex_lock(&lock);
	if (copy_from_user(store, buf, n)) {
		mutex_unlock(&lock);
		return -EFAULT;
	}
	store[n] = '\0';
	used = strlen(store);
	if (kstrtoint(store, 0, &value) == 0)
		total += value;
	pr_info("wrote %zu bytes, total %d\n", n, total);
	mutex_unlock(&lock);
	return len;
}

static const struct file_operations fuzzdev_fops = {
	.owner		= THIS_MODULE,
	.open		= fuzzdev_open,
	.release	= fuzzdev_release,
	.read		= fuzzdev_read,
	.write		= fuzzdev_write,
};

static struct miscdevice fuzzdev_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "fuzzdev",
	.fops	= &fuzzdev_fops,
	.mode	= 0666,
};

static int __init fuzzdev_init(void)
{
	int err;

	if (size < 2 || size > 65536)
		return -EINVAL;
	store = kzalloc(size, GFP_KERNEL);
	if (!store)
		return -ENOMEM;
	err = misc_register(&fuzzdev_misc);
	if (err) {
		kfree(store);
		return err;
	}
	pr_info("/dev/fuzzdev ready (%d bytes, greeting %s)\n", size, greeting);
	return 0;
}

static void __exit fuzzdev_exit(void)
{
	misc_deregister(&fuzzdev_misc);
	kfree(store);
	pr_info("gone after %d\n", total);
}

module_init(fuzzdev_init);
module_exit(fuzzdev_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A misc device for fuzzing module code");
