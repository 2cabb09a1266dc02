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
