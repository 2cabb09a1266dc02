// SPDX-License-Identifier: GPL-2.0
/* sysctlprobe: register_sysctl's checks and errors, proc_dointvec and proc_dostring on a
 * table of its own, register_filesystem and unregister_filesystem's errors. A duplicate
 * entry only in a directory of its own: in 6.1, a failed insert_header's erase_header also
 * rb_erases the entries it never inserted, which empties the directory's tree (a table
 * registered twice takes the first one's files out of /proc/sys). */
#include <linux/module.h>
#include <linux/sysctl.h>
#include <linux/fs.h>

static int values[3] = { 7, -1, 2147483647 };
static char name[16] = "probe";

static struct ctl_table probe_table[] = {
	{ .procname = "values", .data = values, .maxlen = sizeof(values), .mode = 0644,
	  .proc_handler = proc_dointvec },
	{ .procname = "name", .data = name, .maxlen = sizeof(name), .mode = 0644,
	  .proc_handler = proc_dostring },
	{ .procname = "ro", .data = values, .maxlen = sizeof(int), .mode = 0444,
	  .proc_handler = proc_dointvec },
	{ }
};

static struct ctl_table bad_table[] = {
	{ .procname = "bogus", .data = values, .maxlen = sizeof(int), .mode = 01644,
	  .proc_handler = proc_dointvec },
	{ .procname = "nohandler", .data = values, .maxlen = sizeof(int), .mode = 0644 },
	{ .procname = "nodata", .maxlen = sizeof(int), .mode = 0644,
	  .proc_handler = proc_dointvec },
	{ }
};

static struct ctl_table twice_table[] = {
	{ .procname = "same", .data = values, .maxlen = sizeof(int), .mode = 0644,
	  .proc_handler = proc_dointvec },
	{ .procname = "same", .data = values, .maxlen = sizeof(int), .mode = 0644,
	  .proc_handler = proc_dointvec },
	{ }
};

static struct ctl_table_header *probe_header, *tty_header;

static struct file_system_type probe_fs = { .owner = THIS_MODULE, .name = "kcprobe" };
static struct file_system_type probe_fs_again = { .owner = THIS_MODULE, .name = "kcprobe" };
static struct file_system_type proc_again = { .owner = THIS_MODULE, .name = "proc" };
static struct file_system_type never = { .owner = THIS_MODULE, .name = "never",
					 .fs_flags = FS_REQUIRES_DEV };
static struct file_system_type blockfs = { .owner = THIS_MODULE, .name = "kcblock",
					   .fs_flags = FS_REQUIRES_DEV };

static int __init sysctlprobe_init(void)
{
	struct ctl_table_header *h;

	probe_header = register_sysctl("kcourse/probe", probe_table);
	pr_info("sysctlprobe: register kcourse/probe: %s\n", probe_header ? "ok" : "NULL");
	h = register_sysctl("kcourse/bad", bad_table);
	pr_info("sysctlprobe: bad table: %s\n", h ? "ok" : "NULL");
	h = register_sysctl("kcourse/twice", twice_table);
	pr_info("sysctlprobe: a name twice: %s\n", h ? "ok" : "NULL");
	h = register_sysctl("kcourse/probe/values", twice_table);
	pr_info("sysctlprobe: below a file: %s\n", h ? "ok" : "NULL");
	tty_header = register_sysctl("//kcourse//probe2/", bad_table + 3);
	pr_info("sysctlprobe: an empty table at //kcourse//probe2/: %s\n",
		tty_header ? "ok" : "NULL");

	pr_info("sysctlprobe: register kcprobe: %d\n", register_filesystem(&probe_fs));
	pr_info("sysctlprobe: kcprobe again: %d\n", register_filesystem(&probe_fs));
	pr_info("sysctlprobe: another kcprobe: %d\n", register_filesystem(&probe_fs_again));
	pr_info("sysctlprobe: proc: %d\n", register_filesystem(&proc_again));
	pr_info("sysctlprobe: register kcblock: %d\n", register_filesystem(&blockfs));
	pr_info("sysctlprobe: unregister never: %d\n", unregister_filesystem(&never));
	return 0;
}

static void __exit sysctlprobe_exit(void)
{
	pr_info("sysctlprobe: unregister kcprobe: %d\n", unregister_filesystem(&probe_fs));
	pr_info("sysctlprobe: and again: %d\n", unregister_filesystem(&probe_fs));
	pr_info("sysctlprobe: unregister kcblock: %d\n", unregister_filesystem(&blockfs));
	unregister_sysctl_table(tty_header);
	unregister_sysctl_table(probe_header);
	pr_info("sysctlprobe: values %d %d %d, name %s\n", values[0], values[1], values[2], name);
}

module_init(sysctlprobe_init);
module_exit(sysctlprobe_exit);
MODULE_LICENSE("GPL");
