"""Workqueues: queue_work, delayed work, flush and cancel, alloc/destroy (kernel/workqueue.c).

schedule_work(w) is inline queue_work(system_wq, w), queue_work() inline queue_work_on(
WORK_CPU_UNBOUND, ...); INIT_WORK and INIT_DELAYED_WORK are inline too (the latter calls
init_timer_key with delayed_work_timer_fn, TIMER_IRQSAFE). queue_work_on() sets the PENDING
bit and queues the item only if it was clear (a work item is queued at most once); the
item then runs in a kworker (kcourse.machine.workers), in process context, so it may
sleep. A delayed work item is queued by its timer's callback, delayed_work_timer_fn, when
the timer fires. flush waits (asleep) for the instances queued or running when it was
called; cancel takes a queued instance back, and the _sync forms wait for a running one.
"""

from __future__ import annotations

from kcourse.kapi import printk, timers
from kcourse.kapi.registry import data, function
from kcourse.kernel import structs
from kcourse.machine import scheduler, threads, workers
from kcourse.machine.workers import WORK_STRUCT_PENDING, Workqueue

WQ_SIZE = structs.sizeof("workqueue_struct")
WQ_NAME = structs.offsetof("workqueue_struct", "name")
WQ_NAME_LEN = structs.member("workqueue_struct", "name").size
WQ_FLAGS = structs.offsetof("workqueue_struct", "flags")
DW_WORK = structs.offsetof("delayed_work", "work")
DW_TIMER = structs.offsetof("delayed_work", "timer")
DW_WQ = structs.offsetof("delayed_work", "wq")
DW_CPU = structs.offsetof("delayed_work", "cpu")
WQ_UNBOUND, WQ_FREEZABLE, WQ_HIGHPRI = workers.WQ_UNBOUND, 1 << 2, workers.WQ_HIGHPRI
WORK_CPU_UNBOUND = 8192  # NR_CPUS in Debian's config


def new_workqueue(machine, name: str, flags: int, max_active: int) -> int:
    """A workqueue_struct in kernel memory (its name and flags where BTF says), known to the
    machine's pools."""
    address = machine.kernel_alloc(WQ_SIZE)
    machine.space.write(address + WQ_NAME, name.encode()[:WQ_NAME_LEN - 1])
    machine.space.write(address + WQ_FLAGS, flags.to_bytes(4, "little"))
    workers.of(machine).by_address[address] = Workqueue(address, name, flags, max_active)
    return address


def _system(name: str, flags: int, max_active: int = 0):
    def init(machine, address):
        return new_workqueue(machine, name, flags, max_active).to_bytes(8, "little")
    return init


for _symbol, _name, _flags, _active in (
        ("system_wq", "events", 0, 0), ("system_highpri_wq", "events_highpri", WQ_HIGHPRI, 0),
        ("system_long_wq", "events_long", 0, 0),
        ("system_unbound_wq", "events_unbound", WQ_UNBOUND, workers.WQ_UNBOUND_MAX_ACTIVE),
        ("system_freezable_wq", "events_freezable", WQ_FREEZABLE, 0),
        ("system_power_efficient_wq", "events_power_efficient", 0, 0),
        ("system_freezable_power_efficient_wq", "events_freezable_power_efficient",
         WQ_FREEZABLE, 0)):
    data(f"struct workqueue_struct *{_symbol}", "kernel/workqueue.c", 8)(
        _system(_name, _flags, _active))


def _wq(call, address: int) -> Workqueue:
    wq = workers.of(call.machine).by_address.get(address)
    if wq is None or wq.destroyed:
        from kcourse.kernel.kernel import SimulatorLimit

        raise SimulatorLimit(f"kcourse: {call.site} queues work on {address:#x}, which is not "
                             "a live workqueue: the real kernel would use freed or wild memory")
    return wq


def _test_and_set_pending(machine, work: int) -> bool:
    value = machine.space.read_u64(work)
    machine.space.write_u64(work, value | WORK_STRUCT_PENDING)
    return bool(value & WORK_STRUCT_PENDING)


def _clear_pending(machine, work: int) -> None:
    machine.space.write_u64(work, machine.space.read_u64(work) & ~WORK_STRUCT_PENDING)


@function("struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, "
          "int max_active, ...)", "kernel/workqueue.c")
def alloc_workqueue(call, fmt, flags, max_active):
    name = bytes(printk.format_call(call, fmt, WQ_NAME_LEN - 1)).decode("utf-8", "replace")
    return new_workqueue(call.machine, name, flags, max(0, max_active))


@function("void destroy_workqueue(struct workqueue_struct *wq)", "kernel/workqueue.c")
def destroy_workqueue(call, wq):
    queue = _wq(call, wq)
    _wait_all(call, "destroy_workqueue", lambda: workers.of(call.machine).of_queue(queue))
    queue.destroyed = True


@function("bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work)",
          "kernel/workqueue.c")
def queue_work_on(call, cpu, wq, work):
    queue = _wq(call, wq)
    if _test_and_set_pending(call.machine, work):
        return 0
    workers.of(call.machine).queue(queue, work)
    return 1


def _queue_delayed(call, wq: int, dwork: int, delay: int, cpu: int) -> None:
    machine = call.machine
    machine.space.write_u64(dwork + DW_WQ, wq)
    machine.space.write(dwork + DW_CPU, (cpu & 0xFFFF_FFFF).to_bytes(4, "little"))
    if delay == 0:
        workers.of(machine).queue(_wq(call, wq), dwork + DW_WORK)
        return
    timer = dwork + DW_TIMER
    timers.enqueue(machine, timer, (scheduler.of(machine).jiffies + delay) & (1 << 64) - 1)


@function("bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq, "
          "struct delayed_work *dwork, unsigned long delay)", "kernel/workqueue.c")
def queue_delayed_work_on(call, cpu, wq, dwork, delay):
    _wq(call, wq)
    if _test_and_set_pending(call.machine, dwork + DW_WORK):
        return 0
    _queue_delayed(call, wq, dwork, delay, cpu)
    return 1


def _grab_pending(call, dwork: int) -> bool:
    """try_to_grab_pending: the item's timer stopped or its queued instance taken off; the
    PENDING bit is the caller's now. True if it was pending."""
    machine = call.machine
    work = dwork + DW_WORK
    was = bool(machine.space.read_u64(work) & WORK_STRUCT_PENDING)
    if was:
        timers.detach(machine, dwork + DW_TIMER)
        workers.of(machine).unqueue(work)
        _clear_pending(machine, work)
    return was


@function("bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq, "
          "struct delayed_work *dwork, unsigned long delay)", "kernel/workqueue.c")
def mod_delayed_work_on(call, cpu, wq, dwork, delay):
    _wq(call, wq)
    was = _grab_pending(call, dwork)
    _test_and_set_pending(call.machine, dwork + DW_WORK)
    _queue_delayed(call, wq, dwork, delay, cpu)
    return int(was)


@function("void delayed_work_timer_fn(struct timer_list *t)", "kernel/workqueue.c")
def delayed_work_timer_fn(call, t):
    """The timer of a delayed work item fired: queue the work where it was meant to go."""
    dwork = t - DW_TIMER
    wq = call.machine.space.read_u64(dwork + DW_WQ)
    workers.of(call.machine).queue(_wq(call, wq), dwork + DW_WORK)


def _wait_all(call, what: str, items) -> bool:
    """Sleep until every item in items() (taken now) is done; False if there were none."""
    waiting = list(items())
    if not waiting:
        return False
    wait = threads.Wait(what, call.site, lambda: all(i.done for i in waiting),
                        lambda timed_out: 0)
    scheduler.of(call.machine).sleep(call, wait)
    return True


@function("void __flush_workqueue(struct workqueue_struct *wq)", "kernel/workqueue.c")
def __flush_workqueue(call, wq):
    queue = _wq(call, wq)
    _wait_all(call, "__flush_workqueue", lambda: workers.of(call.machine).of_queue(queue))


@function("void drain_workqueue(struct workqueue_struct *wq)", "kernel/workqueue.c")
def drain_workqueue(call, wq):
    queue = _wq(call, wq)
    while _wait_all(call, "drain_workqueue", lambda: workers.of(call.machine).of_queue(queue)):
        pass


@function("bool flush_work(struct work_struct *work)", "kernel/workqueue.c")
def flush_work(call, work):
    return int(_wait_all(call, "flush_work", lambda: workers.of(call.machine).items(work)))


@function("bool flush_delayed_work(struct delayed_work *dwork)", "kernel/workqueue.c")
def flush_delayed_work(call, dwork):
    machine = call.machine
    if timers.detach(machine, dwork + DW_TIMER):  # del_timer_sync: queue it now
        wq = machine.space.read_u64(dwork + DW_WQ)
        workers.of(machine).queue(_wq(call, wq), dwork + DW_WORK)
    return flush_work(call, dwork + DW_WORK)


def _cancel(call, work: int, sync: bool, dwork: int | None = None) -> int:
    machine = call.machine
    queues = workers.of(machine)
    was = bool(machine.space.read_u64(work) & WORK_STRUCT_PENDING)
    if dwork is not None:
        timers.detach(machine, dwork + DW_TIMER)
    queues.unqueue(work)
    _clear_pending(machine, work)
    if sync:
        _wait_all(call, "cancel_work_sync", lambda: queues.running(work))
    return int(was)


@function("bool cancel_work(struct work_struct *work)", "kernel/workqueue.c")
def cancel_work(call, work):
    return _cancel(call, work, sync=False)


@function("bool cancel_work_sync(struct work_struct *work)", "kernel/workqueue.c")
def cancel_work_sync(call, work):
    return _cancel(call, work, sync=True)


@function("bool cancel_delayed_work(struct delayed_work *dwork)", "kernel/workqueue.c")
def cancel_delayed_work(call, dwork):
    return _cancel(call, dwork + DW_WORK, sync=False, dwork=dwork)


@function("bool cancel_delayed_work_sync(struct delayed_work *dwork)", "kernel/workqueue.c")
def cancel_delayed_work_sync(call, dwork):
    return _cancel(call, dwork + DW_WORK, sync=True, dwork=dwork)
