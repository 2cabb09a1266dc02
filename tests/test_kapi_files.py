"""Files modules make, on the simulator alone: what follows from the kernel source and the C.

Each module is C written here, built against the pinned headers (skipped without them, a
failure under CI) and run on a fresh simulated kernel through the shell. The behaviours the
real kernel was seen doing are in tests/test_kapi_fs_real.py; these are the ones around them
that the source decides (cited in each test) or that are the simulator's own contract: a
load it must stop leaves the machine as before, a file left behind is the kernel's oops.
"""

import pytest

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kernel.kernel import Kernel
from kcourse.shell.core import Shell

HEADER = '#include <linux/module.h>\n#include <linux/proc_fs.h>\n#include <linux/seq_file.h>\n' \
         '#include <linux/fs.h>\n#include <linux/kobject.h>\n#include <linux/sysfs.h>\n' \
         '#include <linux/uaccess.h>\n#include <linux/random.h>\n#include <linux/device.h>\n'


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    base = tmp_path_factory.mktemp("mods")

    def make(name, body):
        result = build_cell(name, HEADER + body + '\nMODULE_LICENSE("GPL");\n', base=base)
        need(result.ok, result.problem or result.output)
        return result.ko

    return make


def run(ko, lines):
    kernel = Kernel(seed=3)
    shell = Shell(kernel, workdir=str(ko.parent))
    return kernel, [shell.run(line) for line in lines]


def log(kernel):
    return [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]


def test_a_load_the_simulator_stops_takes_its_files_and_numbers_away(build):
    ko = build("halfway", """
static const struct proc_ops ops = {};
static const struct file_operations fops = {};
static int __init h_init(void)
{
        proc_create("halfway", 0444, NULL, &ops);
        register_chrdev(0, "halfway", &fops);
        return get_random_u32() ? 0 : 1;  /* not modelled: the simulator stops here */
}
module_init(h_init);
""")
    kernel = Kernel(seed=3)
    before = kernel.snapshot()
    shell = Shell(kernel, workdir=str(ko.parent))
    out = shell.run("insmod halfway.ko")
    assert out.rc == 1 and out.stderr.count("\n") == 1 and "get_random_u32()" in out.stderr
    assert kernel.snapshot() == before
    assert shell.run("ls /proc/halfway").rc == 2
    assert "halfway" not in shell.run("cat /proc/devices").stdout


def test_a_simulator_stop_in_open_gives_the_references_back(build):
    ko = build("openstop", """
static int o_open(struct inode *i, struct file *f) { return get_random_u32() ? 0 : 0; }
static const struct file_operations fops = { .owner = THIS_MODULE, .open = o_open };
static struct class *cls;
static int major;
static int __init o_init(void)
{
        major = register_chrdev(0, "openstop", &fops);
        cls = class_create(THIS_MODULE, "openstop");
        device_create(cls, NULL, MKDEV(major, 0), NULL, "openstop");
        return 0;
}
static void __exit o_exit(void)
{
        device_destroy(cls, MKDEV(major, 0));
        class_destroy(cls);
        unregister_chrdev(major, "openstop");
}
module_init(o_init); module_exit(o_exit);
""")
    kernel, out = run(ko, ["insmod openstop.ko", "cat /dev/openstop",
                           "grep ^openstop /proc/modules", "rmmod openstop"])
    assert out[1].rc == 1 and "get_random_u32()" in out[1].stderr
    assert out[2].stdout.split()[2] == "0"  # cdev_get and fops_get given back
    assert out[3].rc == 0 and kernel.modules == []


def test_an_open_char_device_with_an_owner_keeps_its_module(build):
    """chrdev_open takes cdev->owner and fops->owner (fs/char_dev.c): rmmod must refuse."""
    ko = build("held", """
static const struct file_operations fops = { .owner = THIS_MODULE };
static struct class *cls;
static int major;
static int __init h_init(void)
{
        major = register_chrdev(0, "held", &fops);
        cls = class_create(THIS_MODULE, "held");
        device_create(cls, NULL, MKDEV(major, 0), NULL, "held");
        return 0;
}
static void __exit h_exit(void)
{
        device_destroy(cls, MKDEV(major, 0));
        class_destroy(cls);
        unregister_chrdev(major, "held");
}
module_init(h_init); module_exit(h_exit);
""")
    kernel, out = run(ko, ["insmod held.ko", "exec 3</dev/held", "rmmod held", "exec 3<&-",
                           "rmmod held", "ls /dev/held /sys/class/held"])
    assert out[2].rc == 1 and "rmmod: ERROR: Module held is in use" in out[2].stderr
    assert out[4].rc == 0
    assert out[5].stderr.count("No such file or directory") == 2


def test_proc_entries_have_the_modes_sizes_and_warnings_of_generic_c(build):
    ko = build("procmodes", """
static const struct proc_ops ops = {};
static struct proc_dir_entry *d, *f;
static int __init p_init(void)
{
        proc_create("zero", 0, NULL, &ops);          /* proc_create_reg: 0444 */
        f = proc_create("sized", 0600, NULL, &ops);
        proc_set_size(f, 80);
        d = proc_mkdir("pdir", NULL);                 /* _proc_mkdir: 0555 */
        proc_create("inner", 0, d, &ops);
        return 0;
}
static void __exit p_exit(void)
{
        remove_proc_entry("pdir", NULL);              /* non-empty: WARN, subtree leaks */
        remove_proc_entry("sized", NULL);
        remove_proc_entry("zero", NULL);
}
module_init(p_init); module_exit(p_exit);
""")
    kernel, out = run(ko, ["insmod procmodes.ko"])
    entries = {e.name: e for e in kernel.list_dir("/proc")}
    assert entries["zero"].mode == 0o100444 and entries["sized"].mode == 0o100600
    assert entries["sized"].size == 80 and entries["pdir"].mode == 0o40555
    assert [e.name for e in kernel.list_dir("/proc/pdir")] == ["inner"]
    kernel.log.clear()
    Shell(kernel, workdir=str(ko.parent)).run("rmmod procmodes")
    # fs/proc/generic.c:740: WARN(pde_subdir_first(de), "%s: removing non-empty directory
    # '%s/%s', leaking at least '%s'\n", __func__, de->parent->name, de->name, ...)
    assert "remove_proc_entry: removing non-empty directory '/proc/pdir', leaking at least " \
           "'inner'" in log(kernel)
    assert not kernel.exists("/proc/pdir") and not kernel.exists("/proc/pdir/inner")


def test_a_sysfs_show_that_fills_the_page_is_cut(build):
    """fs/sysfs/file.c sysfs_kf_seq_show: a count >= PAGE_SIZE is reported and cut to 4095."""
    ko = build("bigshow", """
static struct kobject *k;
static ssize_t s(struct kobject *o, struct kobj_attribute *a, char *buf)
{
        memset(buf, 'x', 4096);
        return 4096;
}
static struct kobj_attribute at = __ATTR(big, 0444, s, NULL);
static int __init b_init(void)
{
        k = kobject_create_and_add("bigshow", kernel_kobj);
        return sysfs_create_file(k, &at.attr);
}
static void __exit b_exit(void) { kobject_put(k); }
module_init(b_init); module_exit(b_exit);
""")
    kernel, out = run(ko, ["insmod bigshow.ko", "cat /sys/kernel/bigshow/big", "rmmod bigshow",
                           "ls /sys/kernel/bigshow"])
    assert out[1].stdout == "x" * 4095
    assert any(t.startswith("fill_read_buffer: kobj_attr_show+0x0/") and
               t.endswith(" returned bad count") for t in log(kernel))
    assert out[3].rc == 2  # the last kobject_put removed the directory (kobject_cleanup)


def test_a_store_that_takes_nothing_is_one_clear_line(build):
    """kernfs would be called again for the rest for ever (bash retries a short write)."""
    ko = build("stuck", """
static struct kobject *k;
static ssize_t st(struct kobject *o, struct kobj_attribute *a, const char *b, size_t n)
{
        return 0;
}
static struct kobj_attribute at = __ATTR(w, 0200, NULL, st);
static int __init s_init(void)
{
        k = kobject_create_and_add("stuck", kernel_kobj);
        return sysfs_create_file(k, &at.attr);
}
static void __exit s_exit(void) { kobject_put(k); }
module_init(s_init); module_exit(s_exit);
""")
    kernel, out = run(ko, ["insmod stuck.ko", "echo hi > /sys/kernel/stuck/w"])
    assert out[1].rc == 1 and out[1].stderr.count("\n") == 1
    assert "took 0 bytes" in out[1].stderr and "kcourse sim --real" in out[1].stderr


def test_proc_create_with_a_null_name_is_the_kernels_oops(build):
    ko = build("nullname", """
static const struct proc_ops ops = {};
static int __init n_init(void) { proc_create(NULL, 0, NULL, &ops); return 0; }
module_init(n_init);
""")
    kernel, out = run(ko, ["insmod nullname.ko"])
    assert out[0].rc == 137
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in log(kernel)


def test_cat_shows_what_it_read_before_a_read_failed(build):
    """coreutils cat writes each buffer it read; a failing read(2) then ends it with the
    error (fs/read_write.c hands the method's -EFAULT to user space as it is)."""
    ko = build("halfread", """
static int calls;
static ssize_t r(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
        if (calls++ % 2)
                return -EFAULT;
        return simple_read_from_buffer(buf, n, pos, "first part\\n", 11);
}
static ssize_t w(struct file *f, const char __user *buf, size_t n, loff_t *pos) { return 0; }
static const struct proc_ops ops = { .proc_read = r, .proc_write = w };
static int __init h_init(void) { return proc_create("halfread", 0644, NULL, &ops) ? 0 : -1; }
static void __exit h_exit(void) { remove_proc_entry("halfread", NULL); }
module_init(h_init); module_exit(h_exit);
""")
    kernel, out = run(ko, ["insmod halfread.ko", "cat /proc/halfread",
                           "echo x > /proc/halfread"])
    assert out[1].rc == 1 and out[1].stdout == "first part\n"
    assert out[1].stderr == "cat: /proc/halfread: Bad address\n"
    # a write that takes nothing: bash's stdio would write again for ever
    assert out[2].rc == 1 and out[2].stderr.count("\n") == 1 and "took 0 bytes" in \
        out[2].stderr


def test_a_file_that_never_ends_is_one_clear_line(build):
    """A read that always gives bytes: cat would read for ever; the simulator stops."""
    ko = build("endless", """
static char zeros[4096];
static ssize_t r(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
        n = min(n, sizeof(zeros));
        return copy_to_user(buf, zeros, n) ? -EFAULT : n;
}
static const struct proc_ops ops = { .proc_read = r };
static int __init e_init(void) { return proc_create("endless", 0444, NULL, &ops) ? 0 : -1; }
static void __exit e_exit(void) { remove_proc_entry("endless", NULL); }
module_init(e_init); module_exit(e_exit);
""")
    kernel, out = run(ko, ["insmod endless.ko", "cat /proc/endless", "rmmod endless"])
    assert out[1].rc == 1 and out[1].stderr.count("\n") == 1
    assert "has not ended" in out[1].stderr and out[2].rc == 0
