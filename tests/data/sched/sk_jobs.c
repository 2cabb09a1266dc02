/*
 * sk_jobs: a reader of /proc/sk_jobs sleeps on a wait queue (wait_event_interruptible) until
 * a writer wakes it; a reader of /proc/sk_jobs_d sleeps the same way uninterruptibly
 * (wait_event), and says who opens and releases it. For background jobs that sleep in a
 * system call: woken, killed, holding a file they inherited.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(wq);
static int flag;

static ssize_t sk_read(struct file *file, char __user *buf, size_t len, loff_t *off,
		       bool interruptible)
{
	static const char msg[] = "woken\n";
	int ret = 0;

	if (*off)
		return 0;
	pr_info("sk_jobs: %s sleeps (%s)\n", current->comm,
		interruptible ? "interruptible" : "uninterruptible");
	if (interruptible)
		ret = wait_event_interruptible(wq, flag);
	else
		wait_event(wq, flag);
	pr_info("sk_jobs: %s woke: ret %d, flag %d, signal pending %d, fatal %d\n",
		current->comm, ret, flag, signal_pending(current),
		fatal_signal_pending(current));
	if (ret)
		return ret;
	flag = 0;
	return simple_read_from_buffer(buf, len, off, msg, sizeof(msg) - 1);
}

static ssize_t sk_read_i(struct file *f, char __user *b, size_t l, loff_t *o)
{
	return sk_read(f, b, l, o, true);
}

static ssize_t sk_read_d(struct file *f, char __user *b, size_t l, loff_t *o)
{
	return sk_read(f, b, l, o, false);
}

static ssize_t sk_write(struct file *file, const char __user *buf, size_t len, loff_t *off)
{
	flag = 1;
	pr_info("sk_jobs: wake_up by %s\n", current->comm);
	wake_up(&wq);
	return len;
}

static int sk_open(struct inode *inode, struct file *file)
{
	pr_info("sk_jobs: open by %s\n", current->comm);
	return 0;
}

static int sk_release(struct inode *inode, struct file *file)
{
	pr_info("sk_jobs: release by %s\n", current->comm);
	return 0;
}

static const struct proc_ops ops_i = { .proc_read = sk_read_i, .proc_write = sk_write };
static const struct proc_ops ops_d = { .proc_read = sk_read_d, .proc_write = sk_write,
				       .proc_open = sk_open, .proc_release = sk_release };

static int __init sk_jobs_init(void)
{
	if (!proc_create("sk_jobs", 0644, NULL, &ops_i))
		return -ENOMEM;
	if (!proc_create("sk_jobs_d", 0644, NULL, &ops_d)) {
		remove_proc_entry("sk_jobs", NULL);
		return -ENOMEM;
	}
	return 0;
}

static void __exit sk_jobs_exit(void)
{
	remove_proc_entry("sk_jobs_d", NULL);
	remove_proc_entry("sk_jobs", NULL);
}

module_init(sk_jobs_init);
module_exit(sk_jobs_exit);
MODULE_LICENSE("GPL");
