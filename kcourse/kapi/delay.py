"""Busy-waits and sleeps: udelay, ndelay, mdelay, msleep, usleep_range, schedule_timeout.

A busy-wait keeps the CPU: the clock moves by the delay, softirq work may run at the ticks
it crosses (kcourse.machine.scheduler.busy_wait). udelay(n) compiles to __const_udelay(n *
0x10c7) and ndelay(n) to __const_udelay(n * 5) for a constant n (asm-generic/delay.h), mdelay
to a loop of udelay(1000) (linux/delay.h), and arch/x86/lib/delay.c scales xloops by
loops_per_jiffy * (HZ/4): with HZ=250 that is 62/62.5 of the time asked for, so udelay(1000)
spins 992 us.

A sleep gives the CPU away: msleep(m) is schedule_timeout_uninterruptible of
msecs_to_jiffies(m) + 1 jiffies until that has passed (kernel/time/timer.c), so it ends at
that timer's bucket (msleep(10) takes 5 jiffies); usleep_range(min, max) sleeps on an
hrtimer that fires at `max` when nothing else wakes the CPU earlier (kernel/time/hrtimer.c
schedule_hrtimeout_range: the soft expiry is `min`, the hard one `max`).
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import sched_reports
from kcourse.machine import scheduler, threads, wheel

HZ = wheel.HZ
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1  # LONG_MAX
SLEEPS = sched_reports.SLEEPS  # the kernel's frames in a sleep's report (recorded)


def xloops_ns(xloops: int) -> int:
    """__const_udelay: `mull` of the low 32 bits of xloops*4 by lpj*(HZ/4) keeps the high
    half: loops = xloops*4 * lpj*62 >> 32, which lasts loops / (lpj*HZ) s."""
    return ((xloops * 4) & 0xFFFF_FFFF) * (HZ // 4) * 1_000_000_000 // (HZ << 32)


@function("void __const_udelay(unsigned long xloops)", "arch/x86/lib/delay.c")
def __const_udelay(call, xloops):
    scheduler.of(call.machine).busy_wait(xloops_ns(xloops))


@function("void __udelay(unsigned long usecs)", "arch/x86/lib/delay.c")
def __udelay(call, usecs):
    scheduler.of(call.machine).busy_wait(xloops_ns(usecs * 0x10C7))


@function("void __ndelay(unsigned long nsecs)", "arch/x86/lib/delay.c")
def __ndelay(call, nsecs):
    scheduler.of(call.machine).busy_wait(xloops_ns(nsecs * 5))


def sleep_jiffies(call, what: str, timeout: int, state: int, frames=()) -> int:
    """schedule_timeout(timeout) after set_current_state(state): the jiffies left when woken
    (0 once the timeout passed). Nothing here wakes a sleeper early but wake_up_process()
    on a TASK_NORMAL sleep."""
    sched = scheduler.of(call.machine)
    task = threads.current_task(call.machine)
    threads.write_state(call.machine, task, state)
    expire = (sched.jiffies + timeout) if timeout < MAX_SCHEDULE_TIMEOUT else None

    def left(timed_out: bool) -> int:
        threads.write_state(call.machine, task, threads.TASK_RUNNING)
        if expire is None:
            return MAX_SCHEDULE_TIMEOUT
        return max(0, wheel.to_signed(expire - sched.jiffies))

    wait = threads.Wait(what, call.site, lambda: threads.read_state(call.machine, task) == 0,
                        left, uninterruptible=bool(state & threads.TASK_UNINTERRUPTIBLE))
    frames = frames or SLEEPS["schedule_timeout" if expire is not None else
                              "schedule_timeout_forever"]
    return sched.sleep(call, wait, None if expire is None else timeout, frames)


def timeout_or_complain(call, timeout: int) -> int | None:
    """schedule_timeout's check: a negative timeout is printed (with dump_stack) and returns
    0 at once."""
    if timeout >= 0:
        return None
    from kcourse.kernel import oops, sched_reports

    pid, comm = call.kernel.current
    lines = [(oops.KERN_ERR, f"schedule_timeout: wrong timeout value {timeout & (1 << 64) - 1:x}")]
    lines += sched_reports.dump_stack(call.kernel.machine(), pid, comm,
                                      ["dump_stack_lvl+0x44/0x5c", "schedule_timeout", call.site]
                                      + sched_reports.tail(call.kernel.syscall))
    for level, text in lines:
        call.kernel.log.printk(f"\001{level}{text}\n")
    return 0


@function("long schedule_timeout(long timeout)", "kernel/time/timer.c")
def schedule_timeout(call, timeout):
    bad = timeout_or_complain(call, timeout)
    if bad is not None:
        return bad
    state = threads.read_state(call.machine, threads.current_task(call.machine))
    return sleep_jiffies(call, "schedule_timeout", timeout, state)


@function("long schedule_timeout_interruptible(long timeout)", "kernel/time/timer.c")
def schedule_timeout_interruptible(call, timeout):
    return sleep_jiffies(call, "schedule_timeout_interruptible", timeout,
                         threads.TASK_INTERRUPTIBLE)


@function("long schedule_timeout_uninterruptible(long timeout)", "kernel/time/timer.c")
def schedule_timeout_uninterruptible(call, timeout):
    return sleep_jiffies(call, "schedule_timeout_uninterruptible", timeout,
                         threads.TASK_UNINTERRUPTIBLE)


@function("long schedule_timeout_killable(long timeout)", "kernel/time/timer.c")
def schedule_timeout_killable(call, timeout):
    return sleep_jiffies(call, "schedule_timeout_killable", timeout, threads.TASK_KILLABLE)


@function("long schedule_timeout_idle(long timeout)", "kernel/time/timer.c")
def schedule_timeout_idle(call, timeout):
    return sleep_jiffies(call, "schedule_timeout_idle", timeout, threads.TASK_IDLE)


def _sleep_until(call, what: str, timeout: int, state: int, frames=()) -> None:
    """msleep's loop: asleep until the whole timeout has passed, whoever wakes it."""
    sched = scheduler.of(call.machine)
    task = threads.current_task(call.machine)
    threads.write_state(call.machine, task, state)

    def done(timed_out: bool) -> int:
        threads.write_state(call.machine, task, threads.TASK_RUNNING)
        return 0

    wait = threads.Wait(what, call.site, lambda: False, done)
    sched.sleep(call, wait, timeout, frames)


@function("void msleep(unsigned int msecs)", "kernel/time/timer.c")
def msleep(call, msecs):
    _sleep_until(call, "msleep", wheel.msecs_to_jiffies(msecs) + 1,
                 threads.TASK_UNINTERRUPTIBLE, SLEEPS["msleep"])


@function("unsigned long msleep_interruptible(unsigned int msecs)", "kernel/time/timer.c")
def msleep_interruptible(call, msecs):
    """`while (timeout && !signal_pending(current)) timeout =
    schedule_timeout_interruptible(timeout); return jiffies_to_msecs(timeout);`: the whole
    time, unless a signal comes (only a background job's process gets one:
    kcourse.machine.processes); then the milliseconds left."""
    from kcourse.machine import processes

    machine = call.machine
    sched = scheduler.of(machine)
    task = threads.current_task(machine)
    timeout = wheel.msecs_to_jiffies(msecs) + 1
    if processes.signal_pending(machine, task):
        return wheel.jiffies_to_msecs(timeout)
    threads.write_state(machine, task, threads.TASK_INTERRUPTIBLE)
    expire = sched.jiffies + timeout

    def left(timed_out: bool) -> int:
        threads.write_state(machine, task, threads.TASK_RUNNING)
        return 0 if timed_out else wheel.jiffies_to_msecs(
            max(0, wheel.to_signed(expire - sched.jiffies)))

    wait = threads.Wait("msleep_interruptible", call.site,
                        lambda: processes.signal_pending(machine, task), left,
                        uninterruptible=False)
    return sched.sleep(call, wait, timeout, ["schedule_timeout+0x94/0x150",
                                             "msleep_interruptible"])


@function("void usleep_range_state(unsigned long min, unsigned long max, unsigned int state)",
          "kernel/time/timer.c")
def usleep_range_state(call, min, max, state):  # noqa: A002 - the kernel's names
    sched = scheduler.of(call.machine)
    task = threads.current_task(call.machine)
    threads.write_state(call.machine, task, state)
    wake_at = sched.clock.usec + max

    def done(timed_out: bool) -> int:
        threads.write_state(call.machine, task, threads.TASK_RUNNING)
        return 0

    wait = threads.Wait("usleep_range_state", call.site,
                        lambda: sched.clock.usec >= wake_at, done)
    sched.sleep(call, wait, frames=SLEEPS["usleep_range_state"], at_usec=wake_at)
