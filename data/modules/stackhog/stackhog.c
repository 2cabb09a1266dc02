// SPDX-License-Identifier: GPL-2.0
/*
 * stackhog.c - a function with a local array almost as big as the whole stack.
 *
 * What it teaches: kernel stacks are small and fixed. On x86_64 each thread
 * has THREAD_SIZE = 16 KiB (PAGE_SIZE << 2, arch/x86/include/asm/page_64_types.h;
 * older course material says 8 KiB, which was x86_64 before Linux 3.15).
 * Local variables live on that stack, so a 16000-byte array plus the frames
 * already on the stack when init runs (the finit_module system call,
 * load_module, do_init_module, do_one_initcall) do not fit.
 *   - The compiler sees it first. Debian builds with CONFIG_FRAME_WARN=2048,
 *     i.e. gcc -Wframe-larger-than=2048, which prints at build time:
 *       warning: the frame size of ... bytes is larger than 2048 bytes [-Wframe-larger-than=]
 *     (kept on purpose; scripts/build-modules.sh saves it in build-warnings.txt).
 *   - At run time, with CONFIG_VMAP_STACK=y the stack is mapped with an
 *     unmapped guard page below it. 16000 bytes is chosen so that the
 *     overflow lands in that guard page (a larger array could skip past it
 *     into unrelated memory): the first write faults, the fault itself cannot
 *     push onto the stack, and the CPU raises a double fault, which the
 *     kernel reports as a stack overflow (arch/x86/kernel/traps.c:
 *     exc_double_fault, handle_stack_overflow) and panics.
 *     Load it only inside a throw-away virtual machine.
 *
 * Prints:
 *   on load:   "stackhog: calling a function with a 16000-byte local array (the stack is 16384 bytes)"
 *              "stackhog: survived, last byte 0x5a"   (expected NOT to appear: the overflow comes first)
 *   on unload: "stackhog: unloaded"
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/thread_info.h>

#define STACKHOG_BYTES 16000

/*
 * noinline keeps the array in a frame of its own; barrier_data() makes the
 * compiler believe the array is used, so it cannot optimise the memset away.
 */
static noinline int stackhog_fill(void)
{
	char buf[STACKHOG_BYTES];

	memset(buf, 0x5a, sizeof(buf));
	barrier_data(buf);
	return buf[sizeof(buf) - 1];
}

static int __init stackhog_init(void)
{
	pr_info("calling a function with a %d-byte local array (the stack is %lu bytes)\n",
		STACKHOG_BYTES, THREAD_SIZE);
	pr_info("survived, last byte 0x%02x\n", stackhog_fill());
	return 0;
}

static void __exit stackhog_exit(void)
{
	pr_info("unloaded\n");
}

module_init(stackhog_init);
module_exit(stackhog_exit);

MODULE_AUTHOR("kcourse");
MODULE_DESCRIPTION("A 16000-byte local array on a 16 KiB kernel stack");
MODULE_LICENSE("GPL");
