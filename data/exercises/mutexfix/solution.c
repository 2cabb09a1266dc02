// SPDX-License-Identifier: GPL-2.0
/*
 * mutexfix: /dev/mutexfix counts the writes made to it, and read() gives the count
 * ("3\n" after three writes). A mutex makes the read, pause and write-back of
 * mutexfix_write() a critical section, so two writers at once lose no update.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>

static unsigned long mutexfix_count;

/* Protects mutexfix_count. */
static DEFINE_MUTEX(mutexfix_lock);

static ssize_t mutexfix_write(struct file *file, const char __user *buf, size_t len,
			      loff_t *ppos)
{
	unsigned long v;

	mutex_lock(&mutexfix_lock);
	v = READ_ONCE(mutexfix_count);
	udelay(2);
	WRITE_ONCE(mutexfix_count, v + 1);
	mutex_unlock(&mutexfix_lock);
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
