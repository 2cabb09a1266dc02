// SPDX-License-Identifier: GPL-2.0
/*
 * mutexfix: /dev/mutexfix counts the writes made to it, and read() gives the count
 * ("3\n" after three writes). Two writers on two CPUs lose updates: the read, pause
 * and write-back of mutexfix_write() are not a critical section yet.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>

static unsigned long mutexfix_count;

/* TODO 1: define a mutex that protects mutexfix_count (DEFINE_MUTEX) */

static ssize_t mutexfix_write(struct file *file, const char __user *buf, size_t len,
			      loff_t *ppos)
{
	unsigned long v;

	/* TODO 2: take the mutex here ... */
	v = READ_ONCE(mutexfix_count);
	udelay(2);
	WRITE_ONCE(mutexfix_count, v + 1);
	/* TODO 3: ... and release it here */
	return len;
}

static ssize_t mutexfix_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char text[24];
	int n = scnprintf(text, sizeof(text), "%lu\n", READ_ONCE(mutexfix_count));

	return simple_read_from_buffer(buf, len, ppos, text, n);
}

static const struct file_operations mutexfix_fops = {
	.owner	= THIS_MODULE,
	.write	= mutexfix_write,
	.read	= mutexfix_read,
};

static struct miscdevice mutexfix_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mutexfix",
	.fops	= &mutexfix_fops,
};

module_misc_device(mutexfix_misc);
MODULE_LICENSE("GPL");
