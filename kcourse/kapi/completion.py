"""Completions (kernel/sched/completion.c) and their simple wait queue head (swait.c).

init_completion() is inline: done = 0 and __init_swait_queue_head(&x->wait); DECLARE_
COMPLETION is static data. complete() counts one more done (up to UINT_MAX, which
complete_all() sets: everyone passes from then on); a waiter sleeps until done is not 0 and
takes one (unless it is UINT_MAX). The _timeout forms give up after their jiffies
(schedule_timeout's timer) and return 0 then, else the jiffies left (at least 1). No signal
ever reaches a task here, so the interruptible and killable forms end the same way.
"""

from __future__ import annotations

from kcourse.kapi import wait as W
from kcourse.kapi.registry import function
from kcourse.kernel import sched_reports, structs
from kcourse.machine import scheduler, threads, wheel

DONE = structs.offsetof("completion", "done")
TASK_LIST = structs.offsetof("swait_queue_head", "task_list")
UINT_MAX = 0xFFFF_FFFF
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1


def _done(machine, x: int) -> int:
    return int.from_bytes(machine.space.read(x + DONE, 4), "little")


def _set_done(machine, x: int, value: int) -> None:
    machine.space.write(x + DONE, value.to_bytes(4, "little"))


def _take(machine, x: int) -> None:
    done = _done(machine, x)
    if done != UINT_MAX:
        _set_done(machine, x, done - 1)


def wait_common(call, x: int, timeout: int, what: str) -> int:
    """__wait_for_common: `timeout` left (at least 1) once done is taken, 0 on timeout."""
    machine = call.machine
    if _done(machine, x):
        _take(machine, x)
        return timeout or 1
    sched = scheduler.of(machine)
    expire = None if timeout >= MAX_SCHEDULE_TIMEOUT else sched.jiffies + timeout

    def finish(timed_out: bool) -> int:
        if not _done(machine, x):
            return 0
        _take(machine, x)
        if expire is None:
            return MAX_SCHEDULE_TIMEOUT
        return max(wheel.to_signed(expire - sched.jiffies), 0) or 1

    wait = threads.Wait(what, call.site, lambda: _done(machine, x) != 0, finish)
    frames = sched_reports.SLEEPS["wait_for_completion" if expire is not None else
                                  "wait_for_completion_forever"]
    return sched.sleep(call, wait, None if expire is None else timeout, frames)


@function("void __init_swait_queue_head(struct swait_queue_head *q, const char *name, "
          "struct lock_class_key *key)", "kernel/sched/swait.c")
def __init_swait_queue_head(call, q, name, key):
    call.machine.space.write(q, bytes(4))
    W.list_init(call.machine.space, q + TASK_LIST)


@function("void complete(struct completion *x)", "kernel/sched/completion.c")
def complete(call, x):
    done = _done(call.machine, x)
    if done != UINT_MAX:
        _set_done(call.machine, x, done + 1)


@function("void complete_all(struct completion *x)", "kernel/sched/completion.c")
def complete_all(call, x):
    _set_done(call.machine, x, UINT_MAX)


@function("void wait_for_completion(struct completion *x)", "kernel/sched/completion.c")
def wait_for_completion(call, x):
    wait_common(call, x, MAX_SCHEDULE_TIMEOUT, "wait_for_completion")


@function("void wait_for_completion_io(struct completion *x)", "kernel/sched/completion.c")
def wait_for_completion_io(call, x):
    wait_common(call, x, MAX_SCHEDULE_TIMEOUT, "wait_for_completion_io")


@function("unsigned long wait_for_completion_timeout(struct completion *x, "
          "unsigned long timeout)", "kernel/sched/completion.c")
def wait_for_completion_timeout(call, x, timeout):
    return wait_common(call, x, wheel.to_signed(timeout), "wait_for_completion_timeout")


@function("unsigned long wait_for_completion_io_timeout(struct completion *x, "
          "unsigned long timeout)", "kernel/sched/completion.c")
def wait_for_completion_io_timeout(call, x, timeout):
    return wait_common(call, x, wheel.to_signed(timeout), "wait_for_completion_io_timeout")


@function("int wait_for_completion_interruptible(struct completion *x)",
          "kernel/sched/completion.c")
def wait_for_completion_interruptible(call, x):
    wait_common(call, x, MAX_SCHEDULE_TIMEOUT, "wait_for_completion_interruptible")
    return 0


@function("long wait_for_completion_interruptible_timeout(struct completion *x, "
          "unsigned long timeout)", "kernel/sched/completion.c")
def wait_for_completion_interruptible_timeout(call, x, timeout):
    return wait_common(call, x, wheel.to_signed(timeout),
                       "wait_for_completion_interruptible_timeout")


@function("int wait_for_completion_killable(struct completion *x)", "kernel/sched/completion.c")
def wait_for_completion_killable(call, x):
    wait_common(call, x, MAX_SCHEDULE_TIMEOUT, "wait_for_completion_killable")
    return 0


@function("long wait_for_completion_killable_timeout(struct completion *x, "
          "unsigned long timeout)", "kernel/sched/completion.c")
def wait_for_completion_killable_timeout(call, x, timeout):
    return wait_common(call, x, wheel.to_signed(timeout),
                       "wait_for_completion_killable_timeout")


@function("int wait_for_completion_state(struct completion *x, unsigned int state)",
          "kernel/sched/completion.c")
def wait_for_completion_state(call, x, state):
    wait_common(call, x, MAX_SCHEDULE_TIMEOUT, "wait_for_completion_state")
    return 0


@function("bool try_wait_for_completion(struct completion *x)", "kernel/sched/completion.c")
def try_wait_for_completion(call, x):
    if not _done(call.machine, x):
        return 0
    _take(call.machine, x)
    return 1


@function("bool completion_done(struct completion *x)", "kernel/sched/completion.c")
def completion_done(call, x):
    return int(_done(call.machine, x) != 0)
