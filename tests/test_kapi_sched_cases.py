"""Time and deferred work in small modules built here: what the kernel source says happens.

Each module is C written in the test, built with the real kbuild against the pinned headers
(as tests/test_machine_run.py does), loaded into a fresh simulated kernel. Expected values
come from the 6.1 source, cited at each test; the probes recorded on the real kernel are in
tests/test_kapi_sched.py.
"""

from __future__ import annotations

import re

import pytest

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kernel.kernel import Kernel
from kcourse.shell.core import Shell

HEADER = ('#include <linux/module.h>\n#include <linux/delay.h>\n#include <linux/timer.h>\n'
          '#include <linux/interrupt.h>\n#include <linux/kthread.h>\n'
          '#include <linux/completion.h>\n#include <linux/spinlock.h>\n'
          '#include <linux/mutex.h>\n#include <linux/jiffies.h>\n')
STAMP = re.compile(r"^\[ *(\d+)\.(\d{6})\] (.*)$")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    base = tmp_path_factory.mktemp("cases")

    def make(name, body):
        result = build_cell(name, HEADER + body + '\nMODULE_LICENSE("GPL");\n', base=base)
        need(result.ok, result.problem or result.output)
        return result.ko

    return make


def run(ko, lines, seed=7):
    kernel = Kernel(seed=seed)
    shell = Shell(kernel, workdir=str(ko.parent))
    return kernel, [shell.run(line) for line in lines]


def stamped(kernel) -> list[tuple[int, str]]:
    """(microseconds, text) of each dmesg line."""
    out = []
    for line in kernel.dmesg_lines():
        m = STAMP.match(line)
        out.append((int(m.group(1)) * 1_000_000 + int(m.group(2)), m.group(3)))
    return out


def at(lines, text: str) -> int:
    return next(t for t, s in lines if s == text)


def test_a_tasklet_runs_at_the_first_tick_of_inits_busy_wait(build):
    """kernel/softirq.c: a tasklet scheduled from process context runs at the next tick's
    irq exit (HI and TASKLET run even while ksoftirqd is woken: SOFTIRQ_NOW_MASK); the busy
    wait it interrupts counts that time (arch/x86/lib/delay.c delay_tsc), and udelay(1000)
    is 992 us (__const_udelay's lpj * (HZ/4) with HZ=250)."""
    ko = build("tl", """
static void tl_fn(struct tasklet_struct *t)
{
        pr_info("tl: starts\\n");
        mdelay(1000);
        pr_info("tl: ends\\n");
}
static DECLARE_TASKLET(tl_task, tl_fn);
static int __init tl_init(void)
{
        pr_info("tl: scheduling\\n");
        tasklet_schedule(&tl_task);
        mdelay(100);
        pr_info("tl: init continues\\n");
        return 0;
}
static void __exit tl_exit(void) { tasklet_kill(&tl_task); }
module_init(tl_init); module_exit(tl_exit);
""")
    kernel, out = run(ko, ["insmod tl.ko"])
    assert out[0].rc == 0
    lines = stamped(kernel)
    scheduled, starts = at(lines, "tl: scheduling"), at(lines, "tl: starts")
    ends, continues = at(lines, "tl: ends"), at(lines, "tl: init continues")
    assert 0 < starts - scheduled <= 4000 + 992 + 100  # by the first tick after a udelay
    assert 992_000 <= ends - starts <= 992_000 + 100  # 1000 x udelay(1000), printk's time
    done_before = (starts - scheduled) // 992  # the udelays init finished before the tick
    assert (100 - done_before - 1) * 992 <= continues - ends <= (100 - done_before) * 992 + 100


def test_msleep_and_a_timer_end_at_their_wheel_bucket(build):
    """kernel/time/timer.c: msleep(m) sleeps msecs_to_jiffies(m) + 1 jiffies by
    schedule_timeout, whose timer fires at calc_index's bucket: level 0 (under 63 jiffies)
    rounds up by one jiffy, level 1 (under 504) to the next multiple of 8 past it."""
    ko = build("ms", """
static int __init ms_init(void)
{
        unsigned long j0 = jiffies;
        msleep(10);
        pr_info("ms= %lu %lu\\n", j0, jiffies);
        j0 = jiffies;
        msleep(1000);
        pr_info("ms= %lu %lu\\n", j0, jiffies);
        return 0;
}
module_init(ms_init);
""")
    kernel, out = run(ko, ["insmod ms.ko"])
    values = [tuple(map(int, t.split()[1:])) for _, t in stamped(kernel) if t.startswith("ms=")]
    (j0, j1), (k0, k1) = values
    assert j1 - j0 == 10 // 4 + 1 + 1 + 1  # 3 jiffies + msleep's 1, + calc_index's 1
    expire = k0 + 250 + 1  # delta 251: level 1
    assert k1 == ((expire >> 3) + 1) << 3


def test_jiffies_follows_the_clock(build):
    """jiffies counts ticks: HZ=250, one every 4 ms (include/linux/jiffies.h)."""
    ko = build("jf", """
static int __init jf_init(void)
{
        unsigned long j0 = jiffies;
        mdelay(100);
        pr_info("jf= %lu\\n", jiffies - j0);
        return 0;
}
module_init(jf_init);
""")
    kernel, _ = run(ko, ["insmod jf.ko"])
    ticks = int(next(t for _, t in stamped(kernel) if t.startswith("jf=")).split()[1])
    assert ticks in (24, 25)  # 100 x 992 us = 99.2 ms


def test_a_timer_that_rearms_itself_fires_while_time_passes(build):
    """Between shell commands the machine goes on: during `sleep 3` a timer that re-arms
    itself HZ ahead from its callback fires every 1.024 s: armed at a multiple of 8 with
    base->clk one past jiffies, 250 ahead is level 1, whose bucket is 256 on."""
    ko = build("tick", """
static struct timer_list tick_timer;
static int tick_count;
static void tick_fn(struct timer_list *t)
{
        pr_info("tick= %d\\n", ++tick_count);
        mod_timer(t, jiffies + HZ);
}
static int __init tick_init(void)
{
        timer_setup(&tick_timer, tick_fn, 0);
        mod_timer(&tick_timer, jiffies + HZ);
        return 0;
}
static void __exit tick_exit(void) { del_timer_sync(&tick_timer); }
module_init(tick_init); module_exit(tick_exit);
""")
    kernel, out = run(ko, ["insmod tick.ko", "sleep 3"])
    start = next(t for t, s in stamped(kernel) if "loading out-of-tree" in s)
    ticks = [t for t, s in stamped(kernel) if s.startswith("tick=")]
    assert 1_000_000 < ticks[0] - start <= 1_036_000 and ticks[-1] - start < 3_000_100
    assert len(ticks) == 1 + (start + 3_000_000 - ticks[0]) // 1_024_000
    assert all(abs(b - a - 1_024_000) < 100 for a, b in zip(ticks, ticks[1:], strict=False))


def test_sleeping_for_good_in_init_is_one_line(build):
    """A wait nothing will end: the real insmod hangs for good (the hung task detector
    reports it after 120 s); the simulator says so in one line and loads nothing."""
    ko = build("never", """
static DECLARE_COMPLETION(never_done);
static int __init never_init(void) { wait_for_completion(&never_done); return 0; }
module_init(never_init);
""")
    kernel, out = run(ko, ["insmod never.ko", "lsmod"])
    assert out[0].rc == 1 and out[0].stderr.count("\n") == 1
    assert "wait_for_completion()" in out[0].stderr and "hang" in out[0].stderr
    assert kernel.modules == []


def test_a_spinlock_taken_twice_is_one_line(build):
    """On one CPU a held spinlock is never released: the real kernel spins for good."""
    ko = build("twice", """
static DEFINE_SPINLOCK(twice_lock);
static int __init twice_init(void)
{
        spin_lock(&twice_lock);
        spin_lock(&twice_lock);
        return 0;
}
module_init(twice_init);
""")
    kernel, out = run(ko, ["insmod twice.ko"])
    assert out[0].rc == 1 and out[0].stderr.count("\n") == 1
    assert "already held" in out[0].stderr and "twice_init" in out[0].stderr


def test_a_kthread_stopped_before_it_ran_returns_eintr(build):
    """kernel/kthread.c kthread(): a thread stopped before it ever ran does not call its
    function, and kthread_stop() returns -EINTR."""
    ko = build("early", """
static int early_fn(void *data) { pr_info("early: ran\\n"); return 5; }
static int __init early_init(void)
{
        struct task_struct *t = kthread_create(early_fn, NULL, "early");
        pr_info("early: stop=%d\\n", kthread_stop(t));
        return 0;
}
module_init(early_init);
""")
    kernel, _ = run(ko, ["insmod early.ko"])
    texts = [t for _, t in stamped(kernel)]
    assert "early: stop=-4" in texts and "early: ran" not in texts


def test_a_contended_mutex_sleeps_until_its_holder_lets_go(build):
    """kernel/locking/mutex.c: mutex_lock on a mutex another task holds sleeps until it is
    unlocked; the holder here is a kernel thread asleep in msleep while holding it."""
    ko = build("mtx", """
static DEFINE_MUTEX(mtx_lock);
static struct task_struct *mtx_thread;
static int mtx_fn(void *data)
{
        mutex_lock(&mtx_lock);
        pr_info("mtx= thread holds it\\n");
        msleep(100);
        pr_info("mtx= thread lets go\\n");
        mutex_unlock(&mtx_lock);
        while (!kthread_should_stop())
                msleep(10);
        return 0;
}
static int __init mtx_init(void)
{
        mtx_thread = kthread_run(mtx_fn, NULL, "mtx");
        msleep(20);
        mutex_lock(&mtx_lock);
        pr_info("mtx= init has it\\n");
        mutex_unlock(&mtx_lock);
        return 0;
}
static void __exit mtx_exit(void) { kthread_stop(mtx_thread); }
module_init(mtx_init); module_exit(mtx_exit);
""")
    kernel, out = run(ko, ["insmod mtx.ko", "rmmod mtx"])
    assert [r.rc for r in out] == [0, 0]
    texts = [t for _, t in stamped(kernel) if t.startswith("mtx=")]
    assert texts == ["mtx= thread holds it", "mtx= thread lets go", "mtx= init has it"]


def test_a_timer_left_armed_fires_into_freed_memory_and_panics(build):
    """The module's timer_list is gone with its memory: the timer softirq faults on it, an
    oops in interrupt context, so the kernel panics (kernel/panic.c: "Fatal exception in
    interrupt"), as Debian's real kernel did (tests/data/sched/sk_timer_rmmod.real)."""
    ko = build("left", """
static struct timer_list left_timer;
static void left_fn(struct timer_list *t) { pr_info("left: fired\\n"); }
static int __init left_init(void) { timer_setup(&left_timer, left_fn, 0); return 0; }
static void __exit left_exit(void) { mod_timer(&left_timer, jiffies + HZ / 2); }
module_init(left_init); module_exit(left_exit);
""")
    kernel, out = run(ko, ["insmod left.ko", "rmmod left", "sleep 1", "lsmod"])
    assert kernel.panicked and out[3].rc != 0
    texts = [t for _, t in stamped(kernel)]
    assert "Kernel panic - not syncing: Fatal exception in interrupt" in texts
    assert "left: fired" not in texts
