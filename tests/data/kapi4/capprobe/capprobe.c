// SPDX-License-Identifier: GPL-2.0
/* capprobe: capable() and ns_capable() (kernel/capability.c) for root, in init and in a
 * file's read (cat, also root), and PF_SUPERPRIV once a check passed. */
#include <linux/capability.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/user_namespace.h>

static int show(struct seq_file *m, void *v)
{
	bool admin = capable(CAP_SYS_ADMIN);

	seq_printf(m, "%s admin %d superpriv %d\n", current->comm, admin,
		   !!(current->flags & PF_SUPERPRIV));
	return 0;
}

static int __init capprobe_init(void)
{
	bool a = capable(CAP_SYS_ADMIN);
	bool b = capable(CAP_NET_ADMIN);
	bool c = ns_capable(&init_user_ns, CAP_CHECKPOINT_RESTORE);

	pr_info("capprobe %d %d %d superpriv %d\n", a, b, c, !!(current->flags & PF_SUPERPRIV));
	proc_create_single("capprobe", 0444, NULL, show);
	return 0;
}

static void __exit capprobe_exit(void)
{
	remove_proc_entry("capprobe", NULL);
}

module_init(capprobe_init);
module_exit(capprobe_exit);
MODULE_LICENSE("GPL");
