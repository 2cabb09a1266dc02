"""Softirq work on the machine's CPU: HI tasklets, expired timers, tasklets; and busy-waits.

A mixin of kcourse.machine.scheduler.Scheduler (it uses its clock, timers, preempt count and
context switching). The rules are the scheduler's module docstring's: softirq work runs at a
tick's irq exit when interrupts are on and the CPU is not in an interrupt or under
local_bh_disable (kernel/softirq.c invoke_softirq), in __do_softirq's order, each item in
its context (the interrupted one, else the idle task for timers and ksoftirqd/0 for tasklets
raised from process context), with handle_softirqs' check of the preempt count after.
"""

from __future__ import annotations

from collections.abc import Callable

from kcourse.kernel import sched_reports
from kcourse.kernel.kernel import TaskKilled
from kcourse.machine import threads as TH
from kcourse.machine import wheel as W

SOFTIRQ_OFFSET = 0x100  # include/linux/preempt.h
NEED_RESCHED = TH.PREEMPT_ENABLED
IDLE_TASK = (0, "swapper/0")
KSOFTIRQD = (14, "ksoftirqd/0")  # the lab guest's (tests/data/sched/sk_sleeps.real)


class Softirqs:
    def raise_softirq(self, vec: int, key, run: Callable[[], None]) -> None:
        """Pending work for softirq `vec` (0 HI, 6 TASKLET), run in that order."""
        self.softirq_work.append((vec, key, run))

    def softirqs_allowed(self) -> bool:
        return not self._in_softirq and not self.irqs_disabled and not self.in_interrupt()

    def _batch(self) -> list[tuple[str, Callable[[], None]]]:
        """One round of __do_softirq: HI tasklets, expired timers (the highest level first,
        each bucket newest first), tasklets; each with what it is ("timer", "tasklet")."""
        now = self.clock.usec
        due = sorted((t for t in self.timers.values() if t.at_usec <= now),
                     key=lambda t: (t.at_usec, -t.level, -t.seq))
        work = sorted(self.softirq_work, key=lambda item: item[0])
        self.softirq_work = []
        hi = [("tasklet", run) for vec, _k, run in work if vec == 0]
        rest = [("tasklet", run) for vec, _k, run in work if vec != 0]
        return hi + [("timer", self._timer_runner(t)) for t in due] + rest

    def _timer_runner(self, timer) -> Callable[[], None]:
        def run():
            if self.timers.get(timer.key) is timer:  # not deleted by an earlier callback
                del self.timers[timer.key]
                self.running_timer = timer.key
                try:
                    timer.fire()
                finally:
                    self.running_timer = None
        return run

    def run_softirqs(self) -> bool:
        """Run pending softirq work if the context allows it; True if anything ran. A fault
        there is an oops in interrupt context: the machine panics."""
        if not self.softirqs_allowed():
            return False
        ran = False
        while True:
            batch = self._batch()
            if not batch:
                return ran
            progress = False  # a disabled tasklet is only put back: not progress
            for kind, run in batch:
                progress = self._run_softirq(kind, run) or progress
            if not progress:
                return ran
            ran = True

    def _run_softirq(self, kind: str, run: Callable[[], object]) -> bool:
        """One softirq item in its context. With nothing else running, a timer runs on the
        idle task (the tick's irq_exit) and a tasklet raised from process context in
        ksoftirqd/0 (raise_softirq_irqoff woke it); else on the interrupted context, at the
        exit of the tick interrupt. handle_softirqs checks the preempt count after."""
        from kcourse.machine.machine import ModuleFault

        machine, kernel = self.machine, self.kernel
        idle = machine._depth == 0
        context = kind if not idle or kind == "timer" else "ksoftirqd-" + kind
        self._in_softirq += 1
        kernel.memory.enter_atomic("softirq")
        saved_syscall, kernel.syscall = kernel.syscall, context

        def body() -> bool:
            try:
                return self._checked(kind, run)
            except ModuleFault as fault:  # reported as the context that ran it
                softirq_fault(machine, fault)
                return True

        try:
            if idle:
                pid, comm = IDLE_TASK if kind == "timer" else KSOFTIRQD
                with TH.Switch(machine, pid, comm, machine.task_struct(pid, comm),
                               NEED_RESCHED | SOFTIRQ_OFFSET, context):
                    return body()
            self.add_preempt(SOFTIRQ_OFFSET)
            try:
                return body()
            finally:
                self.add_preempt(-SOFTIRQ_OFFSET)  # handle_softirqs: __local_bh_enable
        finally:
            kernel.syscall = saved_syscall
            self._in_softirq -= 1
            kernel.memory.exit_atomic()

    def _checked(self, kind: str, run: Callable[[], object]) -> bool:
        before = self.preempt_count()
        progress = run() is not False
        after = self.preempt_count()
        if after != before and kind == "tasklet":
            sched_reports.emit_plain(self.kernel, sched_reports.softirq_count_changed(
                "TASKLET", self._hashed("tasklet_action"), before, after))
            TH.set_preempt_raw(self.machine, NEED_RESCHED | before)
        return progress

    def _hashed(self, symbol: str) -> str:
        from kcourse.machine import faults

        return faults.hashed(self.machine.address_of(symbol), self.kernel.seed)

    def now_ns(self, cost: int = 0) -> int:
        """The clock in nanoseconds, after `cost` more of them passed."""
        usec, self._ns = divmod(self._ns + cost, 1000)
        if usec:
            self.clock.advance(usec)
        return self.clock.usec * 1000 + self._ns

    def busy_wait(self, nsec: int) -> None:
        """udelay/ndelay/mdelay (arch/x86/lib/delay.c delay_tsc): spin until the TSC passes
        the deadline; each tick on the way may run softirqs, whose time counts toward it."""
        usec, self._ns = divmod(self._ns + max(0, nsec), 1000)
        deadline = self.clock.usec + usec
        while self.clock.usec < deadline:
            if self.softirqs_allowed() and (self.timers or self.softirq_work):
                tick = (self.clock.usec // W.TICK_USEC + 1) * W.TICK_USEC
                if tick < deadline:
                    self.advance_to(tick)
                    self.run_softirqs()
                    continue
            self.advance_to(deadline)

    # ------------------------------------------------------------------ threads


def softirq_fault(machine, fault) -> None:
    """A fault in softirq context: the oops, then "Fatal exception in interrupt" (panic)."""
    from kcourse.machine import faults

    kernel = machine.kernel
    report = faults.report(machine, fault, *kernel.current, in_interrupt=True)
    try:
        kernel.oops(machine.module_at(fault.rip), report)
    except TaskKilled:
        raise TaskKilled("Kernel panic - not syncing: Fatal exception in interrupt") from None
