"""What module functions return, as the process that called them sees it.

A module built with the real kbuild whose init and read() return what its parameters say.
Values the kernel passes back but user space cannot take as a result or an -errno (glibc's
wrappers treat only -4095..-1 as errors, sysdeps/unix/sysv/linux/sysdep.h; MAX_ERRNO in
include/linux/err.h), and a read() that never reaches end of file, are one `kcourse:` line.
"""

import pytest

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kernel.kernel import Kernel
from kcourse.shell.core import Shell

SOURCE = r'''#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>

static int init_ret;
module_param(init_ret, int, 0444);
static long read_ret = -1;  /* -1: "abc" again and again, *ppos ignored */
module_param(read_ret, long, 0444);

static ssize_t rets_read(struct file *f, char __user *buf, size_t len, loff_t *ppos)
{
        if (read_ret != -1)
                return read_ret;
        if (copy_to_user(buf, "abc", 3))
                return -EFAULT;
        return 3;
}

static const struct file_operations rets_fops = { .owner = THIS_MODULE, .read = rets_read };
static struct miscdevice rets_misc = { MISC_DYNAMIC_MINOR, "rets", &rets_fops };

static int __init rets_init(void)
{
        int err = misc_register(&rets_misc);

        if (err || init_ret)
                misc_deregister(&rets_misc);
        return err ? err : init_ret;
}
static void __exit rets_exit(void) { misc_deregister(&rets_misc); }
module_init(rets_init);
module_exit(rets_exit);
MODULE_LICENSE("GPL");
'''


@pytest.fixture(scope="module")
def rets_ko(tmp_path_factory):
    result = build_cell("rets", SOURCE, base=tmp_path_factory.mktemp("rets"))
    need(result.ok, result.problem or result.output)
    return result.ko


def shell_for(ko):
    kernel = Kernel(seed=2)
    return kernel, Shell(kernel, workdir=str(ko.parent))


def test_an_init_returning_no_errno_is_one_limit_line_and_no_module(rets_ko):
    kernel, shell = shell_for(rets_ko)
    result = shell.run("insmod rets.ko init_ret=-2147483648")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: rets_init+0x0/") and \
        "init returned -2147483648, neither a result nor -errno (-4095..-1)" in result.stderr
    assert kernel.find_module("rets") is None  # do_init_module freed it: ret < 0
    # kmod names EINVAL "Invalid parameters" (tools/insmod.c mod_strerror)
    assert shell.run("insmod rets.ko init_ret=-22").stderr.endswith(": Invalid parameters\n")


def test_a_read_returning_no_errno_is_one_limit_line(rets_ko):
    _kernel, shell = shell_for(rets_ko)
    assert shell.run("insmod rets.ko read_ret=-5000").rc == 0
    result = shell.run("cat /dev/rets")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert "rets_read+0x0/" in result.stderr and "read returned -5000" in result.stderr


def test_a_read_that_never_reaches_end_of_file_is_one_limit_line(rets_ko):
    # the classic mistake of a read() that ignores *ppos: the real cat prints "abc" forever
    _kernel, shell = shell_for(rets_ko)
    assert shell.run("insmod rets.ko").rc == 0
    result = shell.run("cat /dev/rets")
    assert result.rc == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: /dev/rets: rets_read+0x0/")
    assert "without end of file" in result.stderr
    assert shell.run("rmmod rets").rc == 0  # the file was closed: nothing holds the module
