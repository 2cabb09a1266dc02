// SPDX-License-Identifier: GPL-2.0
/*
 * baduser.c - a write() handler that dereferences a user pointer directly. A BUG.
 *
 * Never load this on a real machine: only inside the course's QEMU guest.
 *
 * What it teaches: the buffer a process passes to write() is a user-space
 * address (char __user *). Kernel code must copy from it with
 * copy_from_user()/get_user(), which check the address and recover from a
 * fault (through the exception table). This handler reads buf[0] itself:
 *   - gcc compiles it without a word: __user means nothing to the compiler,
 *     it is an annotation for the sparse checker (`make C=1` warns
 *     "dereference of noderef expression").
 *   - On a CPU with SMAP (Supervisor Mode Access Prevention; Linux turns it on
 *     whenever the CPU has it, arch/x86/kernel/cpu/common.c: setup_smap), a
 *     kernel read of a user page faults and the kernel oopses:
 *       BUG: unable to handle page fault for address: <the user address>
 *       #PF: supervisor read access in kernel mode
 *       #PF: error_code(0x0001) - permissions violation
 *     and the writing process is killed.
 *   - On a CPU without SMAP (e.g. QEMU's default "qemu64" CPU model) the read
 *     usually works, which is exactly why the bug goes unnoticed; but a bad
 *     address (e.g. a NULL buffer) still oopses instead of returning -EFAULT.
 * See ../kcdev for the correct way (copy_to_user in its read()).
 *
 * Prints:
 *   on load:   "baduser: /dev/baduser registered"
 *   on write:  "baduser: first byte 0x<xx>, read straight from the user pointer"
 *              (only if the read did not fault)
 *   on unload: "baduser: /dev/baduser removed"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static ssize_t baduser_write(struct file *file, const char __user *buf, size_t len,
			     loff_t *ppos)
{
	unsigned char first;

	if (len == 0)
		return 0;
	/* BUG (on purpose): should be get_user(first, buf) or copy_from_user(). */
	first = buf[0];
	pr_info("first byte 0x%02x, read straight from the user pointer\n", first);
	return len;
}

static const struct file_operations baduser_fops = {
	.owner	= THIS_MODULE,
	.write	= baduser_write,
	.llseek	= no_llseek,
};

static struct miscdevice baduser_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "baduser",
	.fops	= &baduser_fops,
};

static int __init baduser_init(void)
{
	int err = misc_register(&baduser_misc);

	if (err)
		return err;
	pr_info("/dev/baduser registered\n");
	return 0;
}

static void __exit baduser_exit(void)
{
	misc_deregister(&baduser_misc);
	pr_info("/dev/baduser removed\n");
}

module_init(baduser_init);
module_exit(baduser_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("BUG on purpose: write() dereferences the user pointer directly");
MODULE_LICENSE("GPL");
