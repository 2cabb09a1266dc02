"""Tasklets and bottom halves (kernel/softirq.c).

tasklet_schedule() is inline: it sets TASKLET_STATE_SCHED itself and calls
__tasklet_schedule() only if the bit was clear, so a tasklet scheduled twice runs once. The
tasklet then runs in softirq context at the next chance the scheduler gives softirqs
(kcourse.machine.scheduler: the next tick of a busy-wait, a sleep, the end of the system
call): tasklet_action_common takes the RUN bit, clears SCHED and calls the callback, or, for
a disabled tasklet (count > 0), puts it back on the list. tasklet_kill() sleeps until a
scheduled tasklet has run. local_bh_enable() runs what became pending while bottom halves
were off.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import oops, structs
from kcourse.machine import scheduler, threads

NEXT = structs.offsetof("tasklet_struct", "next")
STATE = structs.offsetof("tasklet_struct", "state")
COUNT = structs.offsetof("tasklet_struct", "count")
USE_CALLBACK = structs.offsetof("tasklet_struct", "use_callback")
FUNC = structs.offsetof("tasklet_struct", "func")  # a union with callback
DATA = structs.offsetof("tasklet_struct", "data")
TASKLET_STATE_SCHED, TASKLET_STATE_RUN = 1 << 0, 1 << 1  # include/linux/interrupt.h
HI_SOFTIRQ, TASKLET_SOFTIRQ = 0, 6


def _state(machine, t: int) -> int:
    return machine.space.read_u64(t + STATE)


def _set_state(machine, t: int, value: int) -> None:
    machine.space.write_u64(t + STATE, value)


def _schedule(call, t: int, vec: int) -> None:
    machine = call.machine
    machine.space.write_u64(t + NEXT, 0)
    scheduler.of(machine).raise_softirq(vec, t, lambda: _action(machine, t, vec))


def _action(machine, t: int, vec: int) -> bool:
    """tasklet_action_common for one tasklet; False if it was put back (disabled)."""
    space = machine.space
    state = _state(machine, t)
    count = int.from_bytes(space.read(t + COUNT, 4), "little")
    if state & TASKLET_STATE_RUN or count:
        scheduler.of(machine).raise_softirq(vec, t, lambda: _action(machine, t, vec))
        return False
    _set_state(machine, t, state | TASKLET_STATE_RUN)
    try:
        if not state & TASKLET_STATE_SCHED:
            _warn_not_scheduled(machine, t)
        else:
            _set_state(machine, t, _state(machine, t) & ~TASKLET_STATE_SCHED)
            fn = space.read_u64(t + FUNC)
            if space.read(t + USE_CALLBACK, 1) != b"\0":
                machine.call(fn, t)
            else:
                machine.call(fn, space.read_u64(t + DATA))
    finally:
        _set_state(machine, t, _state(machine, t) & ~TASKLET_STATE_RUN)
    return True


def _warn_not_scheduled(machine, t: int) -> None:
    """tasklet_clear_sched: WARN(1, "tasklet SCHED state not set: %s %pS\\n", ...)."""
    raise_limit(machine, f"a tasklet at {t:#x} was queued without TASKLET_STATE_SCHED: 6.1 "
                "warns (\"tasklet SCHED state not set\"), which the simulator does not model")


def raise_limit(machine, text: str):
    from kcourse.kernel.kernel import SimulatorLimit

    raise SimulatorLimit(f"kcourse: {text}")


@function("void __tasklet_schedule(struct tasklet_struct *t)", "kernel/softirq.c")
def __tasklet_schedule(call, t):
    _schedule(call, t, TASKLET_SOFTIRQ)


@function("void __tasklet_hi_schedule(struct tasklet_struct *t)", "kernel/softirq.c")
def __tasklet_hi_schedule(call, t):
    _schedule(call, t, HI_SOFTIRQ)


@function("void tasklet_init(struct tasklet_struct *t, void (*func)(unsigned long), "
          "unsigned long data)", "kernel/softirq.c")
def tasklet_init(call, t, func, data):
    space = call.machine.space
    space.write_u64(t + NEXT, 0)
    space.write_u64(t + STATE, 0)
    space.write(t + COUNT, bytes(4))
    space.write_u64(t + FUNC, func)
    space.write(t + USE_CALLBACK, b"\0")
    space.write_u64(t + DATA, data)


@function("void tasklet_setup(struct tasklet_struct *t, "
          "void (*callback)(struct tasklet_struct *))", "kernel/softirq.c")
def tasklet_setup(call, t, callback):
    space = call.machine.space
    space.write_u64(t + NEXT, 0)
    space.write_u64(t + STATE, 0)
    space.write(t + COUNT, bytes(4))
    space.write_u64(t + FUNC, callback)
    space.write(t + USE_CALLBACK, b"\1")
    space.write_u64(t + DATA, 0)


@function("void tasklet_kill(struct tasklet_struct *t)", "kernel/softirq.c")
def tasklet_kill(call, t):
    """Wait (asleep) until a scheduled tasklet has run, then leave it unscheduled."""
    machine = call.machine
    sched = scheduler.of(machine)
    if sched.in_interrupt():
        call.kernel.log.printk(f"\001{oops.KERN_NOTICE}Attempt to kill tasklet from "
                               "interrupt\n")
    if _state(machine, t) & TASKLET_STATE_SCHED:
        wait = threads.Wait("tasklet_kill", call.site,
                            lambda: not _state(machine, t) & TASKLET_STATE_SCHED,
                            lambda timed_out: 0)
        sched.sleep(call, wait)
    _set_state(machine, t, _state(machine, t) & ~TASKLET_STATE_SCHED)


@function("void tasklet_unlock(struct tasklet_struct *t)", "kernel/softirq.c")
def tasklet_unlock(call, t):
    _set_state(call.machine, t, _state(call.machine, t) & ~TASKLET_STATE_RUN)


@function("void tasklet_unlock_wait(struct tasklet_struct *t)", "kernel/softirq.c")
def tasklet_unlock_wait(call, t):
    """On one CPU a tasklet is only running while its softirq runs: from anywhere else
    the RUN bit is clear; inside its own callback, the real kernel would wait for good."""
    if _state(call.machine, t) & TASKLET_STATE_RUN:
        raise_limit(call.machine, f"{call.site} waits for a tasklet that is running the "
                    "caller itself: on the real kernel it would wait for good")


@function("void tasklet_unlock_spin_wait(struct tasklet_struct *t)", "kernel/softirq.c")
def tasklet_unlock_spin_wait(call, t):
    tasklet_unlock_wait(call, t)


@function("void __local_bh_enable_ip(unsigned long ip, unsigned int cnt)", "kernel/softirq.c")
def __local_bh_enable_ip(call, ip, cnt):
    """local_bh_enable(): bottom halves back on; softirq work that became pending runs now,
    still with preemption off, then the last count goes."""
    sched = scheduler.of(call.machine)
    sched.add_preempt(-(cnt - 1))
    if not sched.in_interrupt():
        sched.run_softirqs()
    sched.add_preempt(-1)


@function("void _local_bh_enable(void)", "kernel/softirq.c")
def _local_bh_enable(call):
    scheduler.of(call.machine).add_preempt(-scheduler.SOFTIRQ_DISABLE_OFFSET)
