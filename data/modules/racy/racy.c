// SPDX-License-Identifier: GPL-2.0
/*
 * racy.c - a shared counter updated without a lock: a data race.
 *
 * What it teaches: kernel code runs concurrently. Every write() to /dev/racy
 * adds 1 to one counter shared by all callers. The update is a separate
 * read, a short pause and a write, with no lock around it, so when two
 * processes write at the same time on two CPUs (or on one, preempted between the
 * steps: that needs preempt=full, and Debian's kernel boots "voluntary"), both read
 * the same old value and one increment is lost. Reading /dev/racy shows the counter.
 * The pause (udelay(2)) only widens the window so that the race shows up
 * quickly; a bare counter++ has the same bug, it just loses fewer updates.
 * Compare ../locked, where a mutex makes the update atomic.
 *
 * Interface: each write() call to /dev/racy, whatever its length, counts as one
 * increment and returns the full length; read() returns the counter in decimal
 * followed by a newline (e.g. "1000\n"). The counter starts at 0 at load time.
 *
 * Prints:
 *   on load:   "racy: /dev/racy registered (counter updates without a lock)"
 *   on unload: "racy: unloaded, counter=<n>"   (the counter's final value)
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

/* Shared by every process that writes /dev/racy. */
static unsigned long racy_counter;

static ssize_t racy_write(struct file *file, const char __user *buf, size_t len,
			  loff_t *ppos)
{
	unsigned long v;

	v = READ_ONCE(racy_counter);		/* 1. read */
	udelay(2);				/* 2. pause: another writer may run now */
	WRITE_ONCE(racy_counter, v + 1);	/* 3. write back */
	return len;
}

static ssize_t racy_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char text[24];
	int n = scnprintf(text, sizeof(text), "%lu\n", READ_ONCE(racy_counter));

	/* Copies to user space with copy_to_user() and advances *ppos. */
	return simple_read_from_buffer(buf, len, ppos, text, n);
}

static const struct file_operations racy_fops = {
	.owner	= THIS_MODULE,
	.write	= racy_write,
	.read	= racy_read,
	.llseek	= no_llseek,
};

static struct miscdevice racy_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "racy",
	.fops	= &racy_fops,
};

static int __init racy_init(void)
{
	int err = misc_register(&racy_misc);

	if (err)
		return err;
	pr_info("/dev/racy registered (counter updates without a lock)\n");
	return 0;
}

static void __exit racy_exit(void)
{
	misc_deregister(&racy_misc);
	pr_info("unloaded, counter=%lu\n", racy_counter);
}

module_init(racy_init);
module_exit(racy_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A misc device whose write() increments a counter without a lock");
MODULE_LICENSE("GPL");
