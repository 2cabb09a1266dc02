"""Timers: struct timer_list on the timer wheel (kernel/time/timer.c).

The timer_list lives in the module's memory; the wheel is the scheduler's
(kcourse.machine.scheduler, kcourse.machine.wheel: when a timer fires). What module code
reads inline is kept as the kernel keeps it: `entry.pprev` is non-NULL exactly while the
timer is pending (timer_pending(), include/linux/timer.h), `expires` is what was asked, and
when the timer fires it is detached first (pprev NULL, next LIST_POISON2) and its
`function` is read then, so a timer left armed by a module that is gone calls into freed
memory, in softirq context: the oops there panics the machine, as on the real kernel
(tests/data/sched/sk_timer_rmmod).

The callback runs through call_timer_fn: a callback that returns with another preempt
count than it started with gets 6.1's "timer: ... preempt leak" WARN_ONCE, and the count
is put back.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import sched_reports, structs
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import scheduler, threads, wheel

ENTRY_NEXT = structs.offsetof("timer_list", "entry") + structs.offsetof("hlist_node", "next")
ENTRY_PPREV = structs.offsetof("timer_list", "entry") + structs.offsetof("hlist_node", "pprev")
EXPIRES = structs.offsetof("timer_list", "expires")
FUNCTION = structs.offsetof("timer_list", "function")
FLAGS = structs.offsetof("timer_list", "flags")
TIMER_IRQSAFE, TIMER_INIT_FLAGS = 0x0020_0000, 0x0038_0000  # include/linux/timer.h
LIST_POISON2 = 0xDEAD_0000_0000_0122  # include/linux/poison.h with POISON_POINTER_DELTA


def _bucket_head(machine) -> int:
    """A word standing for the wheel's vectors: what a pending timer's pprev points to."""
    head = machine.objects.get("timer_wheel")
    if head is None:
        head = machine.objects["timer_wheel"] = machine.kernel_alloc(8)
    return head


def pending(machine, timer: int) -> bool:
    return machine.space.read_u64(timer + ENTRY_PPREV) != 0


def _flags(machine, timer: int) -> int:
    return int.from_bytes(machine.space.read(timer + FLAGS, 4), "little")


def detach(machine, timer: int) -> bool:
    was = scheduler.of(machine).del_timer(("timer_list", timer))
    if pending(machine, timer):
        machine.space.write_u64(timer + ENTRY_PPREV, 0)
        machine.space.write_u64(timer + ENTRY_NEXT, LIST_POISON2)
        return True
    return was


def enqueue(machine, timer: int, expires: int) -> None:
    """__mod_timer's enqueue: expires written, entry linked, the wheel told."""
    space = machine.space
    space.write_u64(timer + EXPIRES, expires)
    space.write_u64(timer + ENTRY_PPREV, _bucket_head(machine))
    space.write_u64(timer + ENTRY_NEXT, 0)
    scheduler.of(machine).add_timer(("timer_list", timer), expires,
                                    lambda: expire(machine, timer))


def expire(machine, timer: int) -> None:
    """expire_timers + call_timer_fn for one timer whose bucket came. A timer_list in
    memory that is gone (its module unloaded) faults in the timer code itself."""
    from kcourse.machine.address_space import BadAccess
    from kcourse.machine.machine import ModuleFault

    space = machine.space
    try:
        space.write_u64(timer + ENTRY_PPREV, 0)
        space.write_u64(timer + ENTRY_NEXT, LIST_POISON2)
        fn = space.read_u64(timer + FUNCTION)
    except BadAccess:
        machine.kernel.syscall = "timer-wheel"  # the fault is __run_timers', not a callback's
        raise ModuleFault(14, machine.address_of("__run_timers"), timer + ENTRY_PPREV,
                          machine.cpu.registers()) from None
    if not fn:
        return  # WARN_ON_ONCE(!fn) in expire_timers: a shut-down timer
    sched = scheduler.of(machine)
    irqsafe = bool(_flags(machine, timer) & TIMER_IRQSAFE)
    saved_irqs, sched.irqs_disabled = sched.irqs_disabled, irqsafe
    count = sched.preempt_count()
    try:
        machine.call(fn, timer)
    finally:
        sched.irqs_disabled = saved_irqs
    after = sched.preempt_count()
    if after != count:
        _preempt_leak(machine, fn, count, after)
        threads.set_preempt_raw(machine, scheduler.NEED_RESCHED | count)


def _preempt_leak(machine, fn: int, before: int, after: int) -> None:
    kernel = machine.kernel
    once = machine.objects.setdefault("timer_leak_warned", set())
    if "call_timer_fn" in once:
        return  # WARN_ONCE
    once.add("call_timer_fn")
    pid, comm = kernel.current
    callback = machine.symbolize(fn) or f"0x{fn:x}"  # %pS: sk_fn+0x0/0x41 [mod]
    lines = sched_reports.timer_preempt_leak(kernel.machine(), pid, comm, callback, before,
                                             after, kernel.seed)
    sched_reports.emit(kernel, machine.module_at(fn), lines)


@function("void init_timer_key(struct timer_list *timer, void (*func)(struct timer_list *), "
          "unsigned int flags, const char *name, struct lock_class_key *key)",
          "kernel/time/timer.c")
def init_timer_key(call, timer, func, flags, name, key):
    """do_init_timer: not pending, the function, the flags with this CPU (0)."""
    space = call.machine.space
    space.write_u64(timer + ENTRY_PPREV, 0)
    space.write_u64(timer + FUNCTION, func)
    space.write(timer + FLAGS, (flags & TIMER_INIT_FLAGS).to_bytes(4, "little"))


def _mod(call, timer: int, expires: int, pending_only: bool = False, reduce: bool = False):
    machine = call.machine
    was = pending(machine, timer)
    if was:
        current = machine.space.read_u64(timer + EXPIRES)
        diff = wheel.to_signed(current - expires)
        if diff == 0 or (reduce and diff <= 0):
            return 1  # the same expiry (or, reducing, not earlier): nothing to do
    elif pending_only:
        return 0
    if not machine.space.read_u64(timer + FUNCTION):
        return int(was)  # shut down: never re-armed
    detach(machine, timer)
    enqueue(machine, timer, expires)
    return int(was)


@function("int mod_timer(struct timer_list *timer, unsigned long expires)",
          "kernel/time/timer.c")
def mod_timer(call, timer, expires):
    return _mod(call, timer, expires)


@function("int mod_timer_pending(struct timer_list *timer, unsigned long expires)",
          "kernel/time/timer.c")
def mod_timer_pending(call, timer, expires):
    return _mod(call, timer, expires, pending_only=True)


@function("int timer_reduce(struct timer_list *timer, unsigned long expires)",
          "kernel/time/timer.c")
def timer_reduce(call, timer, expires):
    return _mod(call, timer, expires, reduce=True)


@function("void add_timer(struct timer_list *timer)", "kernel/time/timer.c")
def add_timer(call, timer):
    machine = call.machine
    if pending(machine, timer):
        raise SimulatorLimit(f"kcourse: {call.site} calls add_timer() on a timer that is "
                             "already pending: 6.1 warns (WARN_ON_ONCE) and ignores it, which "
                             "the simulator does not model; use mod_timer()")
    enqueue(machine, timer, machine.space.read_u64(timer + EXPIRES))


@function("void add_timer_on(struct timer_list *timer, int cpu)", "kernel/time/timer.c")
def add_timer_on(call, timer, cpu):
    if cpu != 0:
        raise SimulatorLimit(f"kcourse: {call.site} adds a timer on CPU {cpu}; the machine "
                             "has one CPU (0), as the lab's guest")
    add_timer(call, timer)


@function("int timer_delete(struct timer_list *timer)", "kernel/time/timer.c")
def timer_delete(call, timer):
    """del_timer() is inline over this in 6.1.192: 1 if it was pending."""
    return int(detach(call.machine, timer))


@function("int timer_shutdown(struct timer_list *timer)", "kernel/time/timer.c")
def timer_shutdown(call, timer):
    ret = int(detach(call.machine, timer))
    call.machine.space.write_u64(timer + FUNCTION, 0)
    return ret


def _running_here(call, timer: int) -> bool:
    return scheduler.of(call.machine).running_timer == ("timer_list", timer)


@function("int try_to_del_timer_sync(struct timer_list *timer)", "kernel/time/timer.c")
def try_to_del_timer_sync(call, timer):
    if _running_here(call, timer):
        return -1  # its callback is running (here: it is the caller)
    return int(detach(call.machine, timer))


def _delete_sync(call, timer: int, shutdown: bool) -> int:
    if _running_here(call, timer):
        raise SimulatorLimit(f"kcourse: {call.site} waits in timer_delete_sync() for its own "
                             "callback to finish: on the real kernel it would spin for good")
    ret = int(detach(call.machine, timer))
    if shutdown:
        call.machine.space.write_u64(timer + FUNCTION, 0)
    return ret


@function("int timer_delete_sync(struct timer_list *timer)", "kernel/time/timer.c")
def timer_delete_sync(call, timer):
    """del_timer_sync() is inline over this: on one CPU no callback can be running
    elsewhere, so it deletes and returns whether it was pending."""
    return _delete_sync(call, timer, False)


@function("int timer_shutdown_sync(struct timer_list *timer)", "kernel/time/timer.c")
def timer_shutdown_sync(call, timer):
    return _delete_sync(call, timer, True)
