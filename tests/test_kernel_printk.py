"""The ring buffer: levels, continuation lines and timestamps (kernel/printk/printk.c 6.1)."""

from kcourse.kernel import Kernel
from kcourse.kernel.printk import KERN_CONT, KERN_ERR, KERN_INFO, Clock, LogBuffer


def test_levels_and_default_level():
    log = LogBuffer(Clock(0))
    log.printk(KERN_ERR + "bad\n")
    log.printk("plain\n")  # default_message_loglevel = CONFIG_MESSAGE_LOGLEVEL_DEFAULT = 4
    assert [(r.level, r.text) for r in log.records] == [(3, "bad"), (4, "plain")]


def test_unterminated_line_is_held_and_continued():
    log = LogBuffer(Clock(0))
    log.printk(KERN_INFO + "abc")
    assert log.records == []  # not final yet: readers do not see it
    log.printk(KERN_CONT + "def\n")
    assert [r.text for r in log.records] == ["abcdef"]
    log.printk(KERN_INFO + "one")
    log.printk(KERN_INFO + "two\n")  # not a continuation: finalizes "one" first
    assert [r.text for r in log.records][-2:] == ["one", "two"]


def test_timestamps_monotonic_and_seeded():
    a, b = Kernel(seed=5), Kernel(seed=5)
    for k in (a, b):
        k.finit_module(__import__("kcourse.paths").paths.course_module("hello"))
    assert a.dmesg_lines() == b.dmesg_lines()
    ts = [r.ts_usec for r in a.log.records]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert a.dmesg_lines()[0].startswith("[") and "] hello: " in a.dmesg_lines()[0]


def test_dmesg_format():
    log = LogBuffer(Clock(0))
    log.printk(KERN_INFO + "x\n")
    rec = log.records[0]
    secs, usec = divmod(rec.ts_usec, 1_000_000)
    assert rec.dmesg() == f"[{secs:5d}.{usec:06d}] x"


def test_a_value_ending_in_newline_leaves_one_in_the_record():
    """`echo students > .../parameters/whom` keeps the newline (kernel/params.c:266-288
    param_set_charp copies the buffer as written); hello_exit's pr_info("goodbye, %s\\n")
    then formats "goodbye, students\\n\\n", and printk_sprint strips only the last newline
    (kernel/printk/printk.c:2126-2130). Recorded on Debian's 6.1.0-56 kernel under QEMU
    (util-linux dmesg, bash, kmod 30): `rmmod hello` logged the record, and `dmesg` (and
    `dmesg -S`, `dmesg -r`) printed it as its line plus an empty line:
        [   11.288703] hello: goodbye, students
        <empty line>
    """
    from kcourse.shell import Shell

    sh = Shell(Kernel(seed=0))
    sh.run("insmod hello/hello.ko")
    sh.run("dmesg -C")
    assert sh.run("echo students > /sys/module/hello/parameters/whom").rc == 0
    assert sh.run("rmmod hello").dmesg == ("hello: goodbye, students\n",)
    out = sh.run("dmesg").stdout
    assert out.endswith("] hello: goodbye, students\n\n") and out.count("\n") == 2
    sh.run("insmod hello/hello.ko")
    sh.run("echo -n students > /sys/module/hello/parameters/whom")
    assert sh.run("rmmod hello").dmesg == ("hello: goodbye, students",)
