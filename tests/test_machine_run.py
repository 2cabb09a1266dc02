"""Module code runs on the emulated CPU: what a module prints is what its own C says.

Each module here is C written in the test, built with the real kbuild against the pinned
headers (skipped without gcc/headers, a failure under CI), then loaded into a fresh simulated
kernel. The expected lines follow from the C: the format strings and their arguments. Faults,
endless loops and unmodelled calls give the kernel's report or one clear line, and leave the
module list as it was.
"""

import pytest

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kernel.kernel import Kernel
from kcourse.machine.address_space import OutOfMemory
from kcourse.shell.core import Shell

HEADER = '#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt\n#include <linux/module.h>\n' \
         '#include <linux/init.h>\n#include <linux/slab.h>\n'


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    base = tmp_path_factory.mktemp("mods")

    def make(name, body):
        result = build_cell(name, HEADER + body + '\nMODULE_LICENSE("GPL");\n', base=base)
        need(result.ok, result.problem or result.output)
        return result.ko

    return make


def run(lines, ko):
    kernel = Kernel(seed=7)
    shell = Shell(kernel, workdir=str(ko.parent))
    out = [shell.run(line) for line in lines]
    return kernel, out


def test_a_learners_hello_with_other_parameters_prints_what_its_c_says(build):
    ko = build("hello", """
static int times = 2;
module_param(times, int, 0644);
static char *who = "kernel";
module_param(who, charp, 0444);
static int __init h_init(void)
{
        int i;

        for (i = 0; i < times; i++)
                pr_info("%d: hi %s %5.2s|%-4x|\\n", i, who, who, 0xab);
        return 0;
}
static void __exit h_exit(void) { pr_info("bye %s\\n", who); }
module_init(h_init); module_exit(h_exit);
""")
    kernel, out = run(["insmod hello.ko times=3 who=learner", "rmmod hello"], ko)
    assert [r.rc for r in out] == [0, 0]
    texts = [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]
    assert texts[-4:] == ["hello: 0: hi learner    le|ab  |", "hello: 1: hi learner    le|ab  |",
                          "hello: 2: hi learner    le|ab  |", "hello: bye learner"]


def test_init_return_value_and_kmalloc_come_from_the_code(build):
    ko = build("grab", """
static void *p;
static int __init g_init(void)
{
        p = kmalloc(3000, GFP_KERNEL);
        return p ? -EINVAL : -ENOMEM;
}
module_init(g_init);
""")
    kernel, out = run(["insmod grab.ko"], ko)
    # -EINVAL from init; kmod's insmod names EINVAL "Invalid parameters" (tools/insmod.c)
    assert out[0].rc == 1 and "Invalid parameters" in out[0].stderr
    held = kernel.memory.held_by("grab")
    assert held == 4096  # kmalloc(3000) takes kmalloc-4k (slab.h size classes), never freed


def test_an_endless_loop_stops_with_one_line_and_no_module_left(build):
    ko = build("spin", """
static int __init s_init(void) { for (;;) cpu_relax(); return 0; }
module_init(s_init);
""")
    kernel, out = run(["insmod spin.ko", "lsmod"], ko)
    assert out[0].rc == 1
    assert out[0].stderr.count("\n") == 1 and "did not return" in out[0].stderr
    assert "s_init" in out[0].stderr and "soft lockup" in out[0].stderr
    assert kernel.modules == [] and out[1].stdout == "Module                  Size  Used by\n"


def test_an_unmodelled_call_names_the_function_and_the_site(build):
    ko = build("rnd", """
#include <linux/random.h>
static void *keep;
static int __init r_init(void)
{
        keep = kmalloc(100, GFP_KERNEL);
        pr_info("%u\\n", get_random_u32());
        return 0;
}
module_init(r_init);
""")
    kernel, out = run(["insmod rnd.ko"], ko)
    assert kernel.memory.total() == 0  # the call is unwound: its kmalloc too
    line = out[0].stderr
    assert out[0].rc == 1 and line.count("\n") == 1
    assert "get_random_u32()" in line and "r_init+0x" in line and "kcourse sim --real" in line
    assert kernel.modules == []


def test_a_stop_in_a_loaded_modules_call_says_its_state_is_left_as_it_was(build):
    """A stop in a file operation cannot be unwound as a load is: the mutex the write took
    stays held. The stop's line is followed by one note saying so, once; a stop during a
    load has no such note (the load is unwound: test above)."""
    ko = build("cutoff", """
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/random.h>
static DEFINE_MUTEX(lock);
static ssize_t w(struct file *f, const char __user *b, size_t n, loff_t *o)
{
        mutex_lock(&lock);
        pr_info("%u\\n", get_random_u32());
        mutex_unlock(&lock);
        return n;
}
static const struct file_operations fops = { .owner = THIS_MODULE, .write = w };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "cutoff", .fops = &fops };
static int __init c_init(void) { return misc_register(&dev); }
static void __exit c_exit(void) { misc_deregister(&dev); }
module_init(c_init); module_exit(c_exit);
""")
    kernel, out = run(["insmod cutoff.ko", "echo x > /dev/cutoff", "lsmod"], ko)
    assert out[0].rc == 0 and out[0].stderr == ""
    stop, note = out[1].stderr.splitlines()
    assert out[1].rc == 1 and "get_random_u32()" in stop and "w+0x" in stop
    assert note.startswith("kcourse: note: the stop cut cutoff off mid-call")
    assert "lock it took is still held" in note
    assert out[2].stderr == "" and "cutoff" in out[2].stdout


def test_a_null_dereference_is_the_kernels_oops(build):
    ko = build("nullp", """
struct thing { long a, b, c; };
static struct thing *t;
static int __init n_init(void) { pr_info("%ld\\n", READ_ONCE(t)->c); return 0; }
module_init(n_init);
""")
    kernel, out = run(["insmod nullp.ko"], ko)
    assert out[0].rc == 137  # the task is killed (SIGKILL)
    texts = [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]
    # c is at offset 16: the address the real kernel reports (kbleds: "address: ...10")
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000010" in texts
    assert "#PF: supervisor read access in kernel mode" in texts
    assert any(t.startswith("RIP: 0010:n_init+0x") and t.endswith(" [nullp]") for t in texts)
    assert kernel.modules[0].state.name == "COMING"  # an oops in init leaves it loading


def test_warn_on_reports_and_goes_on_bug_on_dies(build):
    """lib/bug.c report_bug and kernel/panic.c __warn: WARNING at file:line, then the code
    after the ud2 runs; WARN_ON_ONCE is silent the second time; BUG() is 'kernel BUG at'."""
    ko = build("warny", """
static noinline void w_once(int i) { WARN_ON_ONCE(i >= 0); }
static int __init w_init(void)
{
        w_once(0);
        w_once(1);
        WARN_ON(1);
        pr_info("after the warnings\\n");
        return 0;
}
static void __exit w_exit(void) { BUG(); }
module_init(w_init); module_exit(w_exit);
""")
    kernel, out = run(["insmod warny.ko", "rmmod warny"], ko)
    assert out[0].rc == 0 and out[1].rc == 137
    texts = [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]
    warnings = [t for t in texts if t.startswith("WARNING: CPU: 0 PID: ")]
    assert len(warnings) == 2  # the _ONCE one once, the plain one once
    assert "/warny.c:" in warnings[0] and " w_once+0x" in warnings[0]
    assert "/warny.c:" in warnings[1] and " w_init+0x" in warnings[1]
    assert all(w.endswith(" [warny]") for w in warnings)
    assert "warny: after the warnings" in texts
    assert texts.count("------------[ cut here ]------------") == 3
    assert any(t.startswith("kernel BUG at ") and "/warny.c:" in t for t in texts)
    assert "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI" in texts
    assert kernel.tainted >> 9 & 1  # W


def test_list_debug_checks_pass_for_a_correct_list(build):
    """CONFIG_DEBUG_LIST=y: list_add/list_del call __list_add_valid/__list_del_entry_valid."""
    ko = build("lists", """
#include <linux/list.h>
struct item { int v; struct list_head node; };
static LIST_HEAD(items);
static struct item a = { .v = 1 }, b = { .v = 2 };
static int __init l_init(void)
{
        struct item *it;
        int sum = 0;

        list_add(&a.node, &items);
        list_add_tail(&b.node, &items);
        list_for_each_entry(it, &items, node)
                sum = sum * 10 + it->v;
        list_del(&a.node);
        pr_info("sum %d, empty %d\\n", sum, list_empty(&items));
        return 0;
}
module_init(l_init);
""")
    kernel, out = run(["insmod lists.ko"], ko)
    assert out[0].rc == 0
    assert kernel.dmesg_lines()[-1].split("] ", 1)[1] == "lists: sum 12, empty 0"


def test_writing_to_const_data_is_a_permissions_fault(build):
    """CONFIG_STRICT_MODULE_RWX: a module's rodata is read-only (kernel/module/strict_rwx.c),
    so a store to it faults: arch/x86/mm/fault.c reports a supervisor write to a present page
    (error code PROT|WRITE = 0x0003)."""
    ko = build("rowrite", """
static const int answer = 42;
static int __init w_init(void) { *(volatile int *)&answer = 7; return 0; }
module_init(w_init);
""")
    kernel, out = run(["insmod rowrite.ko"], ko)
    assert out[0].rc == 137
    texts = [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]
    assert "#PF: supervisor write access in kernel mode" in texts
    assert "#PF: error_code(0x0003) - permissions violation" in texts


def test_a_huge_vmalloc_returns_null_not_the_hosts_memory(build):
    ko = build("bigv", """
#include <linux/vmalloc.h>
static int __init b_init(void)
{
        void *p = vmalloc(1UL << 30);

        pr_info("%s\\n", p ? "got it" : "NULL");
        vfree(p);
        return 0;
}
module_init(b_init);
""")
    kernel, out = run(["insmod bigv.ko"], ko)
    assert out[0].rc == 0
    assert kernel.dmesg_lines()[-1].endswith("bigv: NULL")
    assert kernel.memory.total() == 0


def test_a_full_emulated_ram_is_one_line_and_nothing_is_left_mapped(hello_ko):
    """The emulated machine has less RAM than a module may need (the lab's has 512 MB): a load
    that cannot be placed is a simulator limit in one line, and it leaves no page behind."""
    k = Kernel()
    k.finit_module(hello_ko)
    k.delete_module("hello")
    space = k.emulator.space
    filler = 0xFFFF_FE00_0000_0000  # cpu_entry_area's range: nothing of the simulator's there
    free = space.ram_bytes - space._next_frame - (1 << 20)  # the filler's page tables too
    space.map(filler, free)
    while True:  # then the last frames, a page at a time
        try:
            space.map(filler + free, 4096)
        except OutOfMemory:
            break
        free += 4096
    pages = len(space.pages)
    sh = Shell(k)
    got = sh.run(f"insmod {hello_ko}")
    assert got.rc == 1 and got.stdout == ""
    assert got.stderr.count("\n") == 1 and "RAM is full" in got.stderr
    assert "hello" not in k.read_file("/proc/modules")
    assert len(space.pages) == pages
    space.unmap(filler, free)
    assert sh.run(f"insmod {hello_ko}").rc == 0
