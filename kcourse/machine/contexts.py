"""What the kernel checks around a module's init and exit functions (init/main.c,
kernel/module/main.c), with the scheduler's preempt count and interrupt state."""

from __future__ import annotations

import contextlib

from kcourse.kernel import sched_reports
from kcourse.machine import threads as TH
from kcourse.machine.scheduler import NEED_RESCHED, of


@contextlib.contextmanager
def exitcall(machine, address: int):
    """delete_module after a module's exit function: the kernel itself sleeps soon after
    (free_module -> ftrace_release_mod -> synchronize_rcu), so an exit that left preemption
    off gets "scheduling while atomic" there, and the count is reset."""
    yield
    sched = of(machine)
    if sched.preempt_count():
        sched.scheduling_while_atomic(sched_reports.DELETE_MODULE_SLEEPS,
                                      machine.module_at(address),
                                      below=sched_reports.tail("delete_module")[1:])


@contextlib.contextmanager
def initcall(machine, address: int):
    """init/main.c do_one_initcall: an init function that returns with another preempt
    count, or with interrupts off, gets a WARN naming it, and both are put right."""
    sched = of(machine)
    count = sched.preempt_count()
    yield
    problems = ""
    if sched.preempt_count() != count:
        problems = "preemption imbalance "
        TH.set_preempt_raw(machine, NEED_RESCHED | count)
    if sched.irqs_disabled:
        problems += "disabled interrupts "
        sched.irqs_disabled = False
    if problems:
        kernel = machine.kernel
        pid, comm = kernel.current
        initcall = machine.symbolize(address) or f"0x{address:x}"
        lines = sched_reports.initcall_problem(kernel.machine(), pid, comm, initcall, problems,
                                               kernel.seed)
        sched_reports.emit(kernel, machine.module_at(address), lines)
