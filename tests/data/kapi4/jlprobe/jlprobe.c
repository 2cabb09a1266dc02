// SPDX-License-Identifier: GPL-2.0
/* jlprobe: static keys switched by count and by enable/disable, both directions of
 * static_branch_likely/unlikely on a false and a true key, and the WARN_ON_ONCEs of
 * kernel/jump_label.c on an unbalanced key. */
#include <linux/jump_label.h>
#include <linux/module.h>

static DEFINE_STATIC_KEY_FALSE(kf);
static DEFINE_STATIC_KEY_TRUE(kt);

static noinline void show(const char *when)
{
	pr_info("jlprobe %s: kf %d %d%d kt %d %d%d\n", when,
		static_key_count(&kf.key),
		static_branch_unlikely(&kf) ? 1 : 0, static_branch_likely(&kf) ? 1 : 0,
		static_key_count(&kt.key),
		static_branch_unlikely(&kt) ? 1 : 0, static_branch_likely(&kt) ? 1 : 0);
}

static int __init jlprobe_init(void)
{
	show("start");
	static_branch_enable(&kf);
	show("kf enabled");
	static_branch_enable(&kf);
	show("kf enabled again");
	static_branch_inc(&kf);
	show("kf inc");
	static_branch_dec(&kf);
	show("kf dec");
	static_branch_disable(&kt);
	show("kt disabled");
	static_branch_inc(&kt);
	static_branch_inc(&kt);
	show("kt inc inc");
	static_branch_disable(&kt);
	show("kt disable at 2");
	static_branch_enable(&kt);
	show("kt enable at 2");
	static_branch_dec(&kt);
	static_branch_dec(&kt);
	show("kt dec dec");
	static_branch_dec(&kt);
	show("kt dec at 0");
	static_branch_disable(&kf);
	show("kf disabled");
	return 0;
}

static void __exit jlprobe_exit(void)
{
	static_branch_enable(&kf);
	show("exit");
}

module_init(jlprobe_init);
module_exit(jlprobe_exit);
MODULE_LICENSE("GPL");
