"""Kernel threads on the machine's one CPU: each with its own task_struct, stack and registers.

The Machine runs module code for the task that made a system call on one kernel stack
(kcourse.machine.machine). A kernel thread (a kthread, a workqueue's kworker) needs more:
code that sleeps in the middle of a function and goes on later, while other code runs. So a
Thread has
- a task_struct of its own (pid, comm, PF_KTHREAD, __state), found as `current` while it runs;
- its own THREAD_SIZE stack, mapped in the vmalloc area with an unmapped guard page below,
  as kernel/fork.c alloc_thread_stack_node gives every task with CONFIG_VMAP_STACK=y;
- while it sleeps, the CPU's registers saved with unicorn's context_save.

A thread runs until its function returns, it exits (kthread_complete_and_exit) or it sleeps.
To sleep, a kapi function raises Blocked: the CPU stops on the sleeping call's slot, the
registers are saved, and a later resume() restores them and returns from that call with
the value the wait gives (kcourse.machine.scheduler decides when). Only the thread's own
code may sleep so: a sleep inside a callback that kapi itself called (a nested call) cannot
be suspended, and stops with one line.

This is the only place that switches `current`: %gs:current_task, kernel.current (oops
reports, the memory ledger's owner task) and the per-CPU preempt count are the thread's
while it runs and the interrupted context's again after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kcourse.kernel import structs
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import cpu as C
from kcourse.machine import tasks as T

TASK_STATE = structs.offsetof("task_struct", "__state")
TASK_FLAGS = structs.offsetof("task_struct", "flags")
TASK_STACK = structs.offsetof("task_struct", "stack")
PF_KTHREAD = 0x0020_0000  # include/linux/sched.h
TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE = 0, 1, 2
TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE
TASK_KILLABLE = 0x100 | TASK_UNINTERRUPTIBLE  # TASK_WAKEKILL
TASK_IDLE = 0x400 | TASK_UNINTERRUPTIBLE  # TASK_NOLOAD
PREEMPT_ENABLED = 0x8000_0000  # arch/x86/include/asm/preempt.h: count 0, no resched
THREAD_STACKS = C.STACKS + 0x4000_0000  # below each, an unmapped guard page
STACK_STRIDE = 0x10_0000


class Blocked(BaseException):  # noqa: N818 - a control transfer, not an error
    """Raised by a kapi function to put the running thread to sleep on `wait`."""

    def __init__(self, wait, return_address: int, rsp: int):
        super().__init__(wait.what)
        self.wait, self.return_address, self.rsp = wait, return_address, rsp


class ThreadExit(BaseException):  # noqa: N818
    """kthread_complete_and_exit / kthread_exit: the thread ends with `code`."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass
class Wait:
    """What a sleeping task waits for: `ready()` (polled), or its timeout's timer firing;
    `finish(timed_out)` is the sleeping function's return value, computed when it wakes."""

    what: str  # the sleeping kernel function, for messages
    site: str  # where module code called it
    ready: Callable[[], bool]
    finish: Callable[[bool], int]
    uninterruptible: bool = True
    timed_out: bool = False
    timer: object = None  # the scheduler's timeout entry, if any


class Thread:
    """One kernel thread. `next_run(rax)` says what it runs from scratch on its stack:
    called with None when it starts (or is woken from idle), and with what the function
    returned each time one returns; it gives (function, argument), "idle" (nothing to do
    until woken) or None (the thread is done)."""

    def __init__(self, machine, pid: int, comm: str, index: int):
        self.machine, self.pid, self.comm = machine, pid, comm[:15]
        self.task = machine.task_struct(pid, self.comm)
        space = machine.space
        flags = int.from_bytes(space.read(self.task + TASK_FLAGS, 4), "little") | PF_KTHREAD
        space.write(self.task + TASK_FLAGS, flags.to_bytes(4, "little"))
        self.set_state(TASK_UNINTERRUPTIBLE)  # kthread(): created asleep until woken
        size = machine.kernel.config_thread_size
        self.stack_base = THREAD_STACKS + index * STACK_STRIDE + C.PAGE
        space.map(self.stack_base, size)
        space.write_u64(self.task + TASK_STACK, self.stack_base)
        self.stack_top = self.stack_base + size
        self.next_run: Callable[[int | None], object] = lambda rax: None
        self.context = None  # saved registers while it sleeps mid-function
        self.resume_at = self.resume_rsp = 0
        self.wait: Wait | None = None
        self.state = "new"  # new | runnable | blocked | idle | dead
        self.depth = 0  # the machine's call depth at which the thread's own code runs
        self.ready_seq = 0
        self.preempt = PREEMPT_ENABLED
        self.kind = "kthread"  # or "kworker": what runs there, for reports
        self.workqueue = ""  # a kworker's current work, as dump_stack names it

    def set_state(self, state: int) -> None:
        self.machine.space.write(self.task + TASK_STATE, state.to_bytes(4, "little"))

    def task_state(self) -> int:
        return int.from_bytes(self.machine.space.read(self.task + TASK_STATE, 4), "little")

    def release_stack(self) -> None:
        self.machine.space.unmap(self.stack_base, self.machine.kernel.config_thread_size)


class Switch:
    """`current` becomes (pid, comm, task) inside the block, and the per-CPU preempt count
    `preempt`; `context` names what runs there for reports (kernel.syscall: "kthread",
    "kworker", "softirq"). The interrupted context's come back after (its count as it was)."""

    def __init__(self, machine, pid: int, comm: str, task: int, preempt: int,
                 context: str = "kthread"):
        self.machine, self.to, self.context = machine, (pid, comm, task, preempt), context

    def __enter__(self):
        machine, kernel, space = self.machine, self.machine.kernel, self.machine.space
        self.saved = (kernel.current, kernel.syscall,
                      space.read_u64(machine.percpu + T.CURRENT_TASK),
                      preempt_raw(machine), (kernel.memory.pid, kernel.memory.comm))
        pid, comm, task, preempt = self.to
        kernel.current, kernel.syscall = (pid, comm), self.context
        kernel.memory.set_current(pid, comm)
        space.write_u64(machine.percpu + T.CURRENT_TASK, task)
        set_preempt_raw(machine, preempt)
        return self

    def __exit__(self, *exc):
        machine, kernel = self.machine, self.machine.kernel
        self.left_preempt = preempt_raw(machine)
        current, syscall, task, preempt, owner = self.saved
        kernel.current, kernel.syscall = current, syscall
        kernel.memory.set_current(*owner)
        machine.space.write_u64(machine.percpu + T.CURRENT_TASK, task)
        set_preempt_raw(machine, preempt)
        return False


def current_task(machine) -> int:
    """%gs:current_task: the task_struct of whatever runs now."""
    return machine.space.read_u64(machine.percpu + T.CURRENT_TASK)


def read_state(machine, task: int) -> int:
    return int.from_bytes(machine.space.read(task + TASK_STATE, 4), "little")


def write_state(machine, task: int, state: int) -> None:
    machine.space.write(task + TASK_STATE, (state & 0xFFFF_FFFF).to_bytes(4, "little"))


def preempt_raw(machine) -> int:
    return int.from_bytes(machine.space.read(machine.percpu + T.PREEMPT_COUNT, 4), "little")


def set_preempt_raw(machine, value: int) -> None:
    machine.space.write(machine.percpu + T.PREEMPT_COUNT,
                        (value & 0xFFFF_FFFF).to_bytes(4, "little"))


def run(thread: Thread, resume_value: int = 0) -> str:
    """Give the CPU to `thread` until it sleeps ("blocked"), finishes ("dead") or has nothing
    more to run ("idle"). An oops kills the thread (reported as the kernel reports it, the
    machine goes on unless it panics); a simulator limit propagates, the thread dead."""
    from kcourse.machine.machine import BUDGET, ModuleFault, Runaway

    machine = thread.machine
    cpu = machine.cpu
    outer = cpu.uc.context_save() if machine._depth > 0 else None
    machine._depth += 1
    thread.depth = machine._depth
    switch = Switch(machine, thread.pid, thread.comm, thread.task, thread.preempt, thread.kind)
    try:
        with switch:
            try:
                return _slice(thread, resume_value)
            except ModuleFault as fault:
                thread.state = "dead"
                _oops(thread, fault)
                return "dead"
            except Runaway as runaway:  # a thread's endless loop: say whose
                raise Runaway(f"kcourse: kernel thread {thread.comm} ran {BUDGET:,} "
                              "instructions without sleeping (at "
                              f"{str(runaway).split(' did not', 1)[0].removeprefix('kcourse: ')}"
                              "); the simulator stops it there; on the real kernel it would "
                              "keep the CPU busy (a soft lockup if it never calls "
                              "cond_resched())") from None
    except BaseException:
        thread.state = "dead"
        raise
    finally:
        thread.preempt = getattr(switch, "left_preempt", PREEMPT_ENABLED)
        machine._depth -= 1
        if outer is not None:
            _clear_stop(machine)
            cpu.uc.context_restore(outer)


def _clear_stop(machine) -> None:
    """unicorn 2.1 keeps one stop flag: a nested emu_start that ended in emu_stop (a thread
    that went to sleep, or oopsed) leaves it set, and the interrupted emulation then runs
    on without calling any hook (src/uc.c helper_uc_tracecode returns early), so its calls
    into the kernel would be plain `ret`s. An empty run (begin == until) clears the flag;
    its count gives the interrupted run a fresh instruction budget, as any nested call
    does."""
    from kcourse.machine.machine import BUDGET

    machine.cpu.uc.emu_start(C.RETURN_TRAP, C.RETURN_TRAP, count=BUDGET)


def _slice(thread: Thread, resume_value: int) -> str:
    machine, cpu = thread.machine, thread.machine.cpu
    thread.set_state(TASK_RUNNING)
    following = thread.next_run(None) if thread.context is None else ()
    while True:
        if following is None or following == "idle":
            thread.state = "dead" if following is None else "idle"
            return thread.state
        try:
            if thread.context is not None:
                cpu.uc.context_restore(thread.context)
                thread.context = None
                cpu.set_reg("rsp", thread.resume_rsp)
                cpu.set_reg("rax", resume_value)
                rax = machine.run_from(thread.resume_at)
            else:
                fn, arg = following
                cpu.set_reg("rsp", (thread.stack_top - 256) & ~0xF)
                cpu.set_reg("rdi", arg)
                cpu.push(C.RETURN_TRAP)
                rax = machine.run_from(fn)
        except Blocked as blocked:
            thread.context = cpu.uc.context_save()
            thread.resume_at, thread.resume_rsp = blocked.return_address, blocked.rsp + 8
            thread.wait, thread.state = blocked.wait, "blocked"
            return "blocked"
        except ThreadExit as end:  # kthread_exit: kthread() does not return to its loop
            thread.next_run(end.code)
            thread.state = "dead"
            return "dead"
        following = thread.next_run(rax)


def _oops(thread: Thread, fault) -> None:
    """The oops a fault in a kernel thread prints; do_exit then notes the irqs (make_task_dead
    runs with them off: kernel/exit.c). A panic (panic_on_oops, a fault in an interrupt)
    stops the machine: TaskKilled propagates."""
    from kcourse.kernel import sched_reports
    from kcourse.kernel.kernel import TaskKilled
    from kcourse.machine import faults

    machine = thread.machine
    kernel = machine.kernel
    report = faults.report(machine, fault, thread.pid, thread.comm)
    if thread.workqueue:  # dump_stack_print_info -> print_worker_info, after the hardware
        at = next((i for i, (_l, t) in enumerate(report.lines) if t.startswith("Hardware")), -1)
        report.lines.insert(at + 1, (report.lines[at][0], f"Workqueue: {thread.workqueue}"))
    try:
        kernel.oops(machine.module_at(fault.rip), report)
    except TaskKilled:
        if kernel.panicked:
            raise
    for level, text in sched_reports.exited_with_irqs_disabled(thread.pid, thread.comm):
        kernel.log.printk(f"\001{level}{text}\n")
    thread.next_run(0)
    thread.state = "dead"


def blocked_here(machine, thread: Thread | None, what: str, site: str) -> None:
    """A thread may sleep only in its own code (see the module docstring)."""
    if thread is not None and machine._depth != thread.depth:
        raise SimulatorLimit(f"kcourse: {site} sleeps in {what}() inside a callback the "
                             "kernel called from a kernel thread; the simulator cannot "
                             "suspend that; run it on the real kernel with `kcourse sim "
                             "--real`")
