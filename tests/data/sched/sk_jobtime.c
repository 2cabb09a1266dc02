/*
 * sk_jobtime: a reader of /proc/sk_jobtime sleeps in msleep(2000); a reader of
 * /proc/sk_jobtime_i in msleep_interruptible(5000), which a signal ends early. For
 * background jobs asleep in a system call until a timer wakes them.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

static ssize_t sk_read(struct file *file, char __user *buf, size_t len, loff_t *off)
{
	static const char msg[] = "slept\n";

	if (*off)
		return 0;
	msleep(2000);
	pr_info("sk_jobtime: %s slept 2000 ms\n", current->comm);
	return simple_read_from_buffer(buf, len, off, msg, sizeof(msg) - 1);
}

static ssize_t sk_read_i(struct file *file, char __user *buf, size_t len, loff_t *off)
{
	unsigned long left;

	if (*off)
		return 0;
	left = msleep_interruptible(5000);
	/* how many ms are left is the guest's wall-clock time (TCG): only say whether some are */
	pr_info("sk_jobtime: %s woke with %s ms left, signal pending %d\n", current->comm,
		left ? "some" : "no", signal_pending(current));
	return 0;
}

static const struct proc_ops ops = { .proc_read = sk_read };
static const struct proc_ops ops_i = { .proc_read = sk_read_i };

static int __init sk_jobtime_init(void)
{
	if (!proc_create("sk_jobtime", 0444, NULL, &ops))
		return -ENOMEM;
	if (!proc_create("sk_jobtime_i", 0444, NULL, &ops_i)) {
		remove_proc_entry("sk_jobtime", NULL);
		return -ENOMEM;
	}
	return 0;
}

static void __exit sk_jobtime_exit(void)
{
	remove_proc_entry("sk_jobtime_i", NULL);
	remove_proc_entry("sk_jobtime", NULL);
}

module_init(sk_jobtime_init);
module_exit(sk_jobtime_exit);
MODULE_LICENSE("GPL");
