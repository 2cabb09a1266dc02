// SPDX-License-Identifier: GPL-2.0
/* kprobelimits: what the simulator does not model about kprobes and kallsyms stops with one
 * line (kcourse tests/test_kapi_kprobes.py; no recording: on the real kernel these work). */
#include <linux/kprobes.h>
#include <linux/module.h>

static int which;
module_param(which, int, 0);

static int pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}

static int __init kprobelimits_init(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*lookup)(const char *name);
	int err;

	if (which == 0)
		kp.pre_handler = pre;
	err = register_kprobe(&kp);
	if (err)
		return err;
	lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	if (which == 1)
		pr_info("kprobelimits %lx\n", lookup("do_init_module"));
	if (which == 2) {
		struct kprobe data = { .symbol_name = "jiffies" };

		pr_info("kprobelimits jiffies: %d\n", register_kprobe(&data));
	}
	return 0;
}

static void __exit kprobelimits_exit(void)
{
}

module_init(kprobelimits_init);
module_exit(kprobelimits_exit);
MODULE_LICENSE("GPL");
