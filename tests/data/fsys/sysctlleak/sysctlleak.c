// SPDX-License-Identifier: GPL-2.0
/* sysctlleak: registers a sysctl table and a file system type and forgets both at exit. */
#include <linux/module.h>
#include <linux/sysctl.h>
#include <linux/fs.h>

static int value = 3;
static struct ctl_table table[] = {
	{ .procname = "value", .data = &value, .maxlen = sizeof(int), .mode = 0644,
	  .proc_handler = proc_dointvec },
	{ }
};
static struct file_system_type leakfs = { .owner = THIS_MODULE, .name = "leakfs" };

static int __init sysctlleak_init(void)
{
	if (!register_sysctl("sysctlleak", table))
		return -ENOMEM;
	return register_filesystem(&leakfs);
}

static void __exit sysctlleak_exit(void)
{
}

module_init(sysctlleak_init);
module_exit(sysctlleak_exit);
MODULE_LICENSE("GPL");
