// SPDX-License-Identifier: GPL-2.0
/*
 * locked.c - the fixed twin of ../racy: the shared counter is updated under a mutex.
 *
 * What it teaches: a mutex makes the read-pause-write sequence a critical
 * section. Only one writer at a time can be inside it, so no increment is
 * lost: after N writes to /dev/locked the counter is exactly N. A mutex
 * (not a spinlock) is fine here because write() runs in process context and
 * may sleep; udelay() does not sleep, it only spins.
 *
 * Interface: each write() call to /dev/locked, whatever its length, counts as one
 * increment and returns the full length; read() returns the counter in decimal
 * followed by a newline (e.g. "1000\n"). The counter starts at 0 at load time.
 *
 * Prints:
 *   on load:   "locked: /dev/locked registered (counter updates under a mutex)"
 *   on unload: "locked: unloaded, counter=<n>"   (the counter's final value)
 * write() and read() print nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>

/* Shared by every process that writes /dev/locked. */
static unsigned long locked_counter;

/* Protects locked_counter. */
static DEFINE_MUTEX(locked_lock);

static ssize_t locked_write(struct file *file, const char __user *buf, size_t len,
			    loff_t *ppos)
{
	unsigned long v;

	mutex_lock(&locked_lock);
	v = READ_ONCE(locked_counter);		/* 1. read */
	udelay(2);				/* 2. pause: other writers wait for the mutex */
	WRITE_ONCE(locked_counter, v + 1);	/* 3. write back */
	mutex_unlock(&locked_lock);
	return len;
}

static ssize_t locked_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char text[24];
	int n = scnprintf(text, sizeof(text), "%lu\n", READ_ONCE(locked_counter));

	/* Copies to user space with copy_to_user() and advances *ppos. */
	return simple_read_from_buffer(buf, len, ppos, text, n);
}

static const struct file_operations locked_fops = {
	.owner	= THIS_MODULE,
	.write	= locked_write,
	.read	= locked_read,
	.llseek	= no_llseek,
};

static struct miscdevice locked_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "locked",
	.fops	= &locked_fops,
};

static int __init locked_init(void)
{
	int err = misc_register(&locked_misc);

	if (err)
		return err;
	pr_info("/dev/locked registered (counter updates under a mutex)\n");
	return 0;
}

static void __exit locked_exit(void)
{
	misc_deregister(&locked_misc);
	pr_info("unloaded, counter=%lu\n", locked_counter);
}

module_init(locked_init);
module_exit(locked_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A misc device whose write() increments a counter under a mutex");
MODULE_LICENSE("GPL");
