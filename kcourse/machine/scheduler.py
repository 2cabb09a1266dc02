"""The machine's one CPU shared out in time: timers, softirqs and kernel threads.

The lab's guest has one CPU (QEMU -smp 1) and Debian's 6.1 preempts voluntarily
(CONFIG_PREEMPT_VOLUNTARY, PREEMPT_DYNAMIC): a task keeps the CPU until it sleeps, returns to
user space, or reaches a voluntary preemption point. So, on the Kernel's logical clock:
- Timers (kcourse.machine.wheel) fire at the tick that reaches their bucket, in softirq
  context (preempt_count has SOFTIRQ_OFFSET: in_softirq(), in_interrupt()).
- Softirq work (HI tasklets, expired timers, tasklets: kernel/softirq.c's order) runs at a
  tick interrupt's exit when interrupts are on and the CPU is not in an interrupt or under
  local_bh_disable (invoke_softirq): during a busy-wait at each tick it crosses, when a task
  sleeps, and between system calls; on the idle task (swapper/0, pid 0) when nothing runs.
- Kernel threads (kthreads, kworkers) run when the running task sleeps or at return to user
  space (the end of each system call: kcourse.kernel.kernel.Kernel.run_deferred), in the
  order they became runnable; each until it sleeps, exits or has no more work.
- Time passes between shell commands (the typing pause, `sleep N`): pass_time() runs what
  falls due meanwhile in time order, jumping the clock from event to event while idle.
- A task that sleeps with preemption disabled (a spinlock held, in softirq context) gets
  6.1's "BUG: scheduling while atomic" (kernel/sched/core.c __schedule_bug, from
  schedule_debug), and sleeps anyway with its preempt count reset, as the real one does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from kcourse.kernel import sched_reports
from kcourse.kernel.kernel import SimulatorLimit, TaskKilled
from kcourse.machine import threads as TH
from kcourse.machine import wheel as W

SOFTIRQ_OFFSET, SOFTIRQ_DISABLE_OFFSET = 0x100, 0x200  # include/linux/preempt.h
IRQ_MASKS = 0x00FF_FF00  # SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK: in_interrupt()
NEED_RESCHED = TH.PREEMPT_ENABLED  # the inverted bit x86 keeps in __preempt_count
HUNG_TASK_USEC = 120 * 1_000_000  # CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120
SPIN_LIMIT = 10_000  # thread slices without the clock moving: a thread that never sleeps
IDLE_TASK = (0, "swapper/0")
KSOFTIRQD = (14, "ksoftirqd/0")  # the lab guest's (tests/data/sched/sk_sleeps.real)


@dataclass
class Timer:
    key: object
    at_usec: int  # when it fires: its bucket's tick (a wheel timer), or its instant (hrtimer)
    level: int
    seq: int
    fire: Callable[[], None]
    expires: int = 0  # jiffies (a wheel timer)


def of(machine) -> Scheduler:
    sched = machine.objects.get("sched")
    if sched is None:
        sched = machine.objects["sched"] = Scheduler(machine)
    return sched


class Scheduler:
    def __init__(self, machine):
        self.machine, self.kernel, self.clock = machine, machine.kernel, machine.kernel.clock
        self.threads: list[TH.Thread] = []
        self.pollers: list[Callable[[], None]] = []
        self.by_task: dict[int, TH.Thread] = {}
        self.timers: dict[object, Timer] = {}
        self.softirq_work: list[tuple[int, object, Callable[[], None]]] = []  # (vec, key, run)
        self.current: TH.Thread | None = None
        self.running_timer: object = None
        self.irqs_disabled = False
        self._in_softirq = 0
        self._seq = 0
        self._ns = 0  # nanoseconds past the clock's microsecond (clock reads, short delays)
        self._stacks = 0
        self._next_pid = self.kernel.pid_of("insmod") + 200

    # ------------------------------------------------------------------ context
    def preempt_count(self) -> int:
        return TH.preempt_raw(self.machine) & ~NEED_RESCHED

    def add_preempt(self, n: int) -> None:
        TH.set_preempt_raw(self.machine, TH.preempt_raw(self.machine) + n)

    def in_interrupt(self) -> bool:
        return bool(self.preempt_count() & IRQ_MASKS)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ time and timers
    @property
    def jiffies(self) -> int:
        return W.jiffies_at(self.clock.usec)

    def advance_to(self, usec: int) -> None:
        if usec > self.clock.usec:
            self.clock.advance(usec - self.clock.usec)

    def add_timer(self, key, expires: int, fire: Callable[[], None]) -> Timer:
        """__mod_timer: into the wheel at `expires` (a timer callback re-arming runs with
        base->clk one past jiffies, as __run_timers leaves it)."""
        clk = self.jiffies + (1 if self.running_timer is not None else 0)
        bucket, level = W.bucket(expires, clk)
        timer = Timer(key, W.tick_usec(bucket), level, self.next_seq(), fire, expires)
        self.timers[key] = timer
        return timer

    def add_hrtimer(self, key, at_usec: int, fire: Callable[[], None]) -> Timer:
        """A high-resolution timer: fires at its instant, not on a tick (a sleeper's, which
        only wakes it)."""
        timer = Timer(key, at_usec, 0, self.next_seq(), fire)
        self.timers[key] = timer
        return timer

    def del_timer(self, key) -> bool:
        return self.timers.pop(key, None) is not None

    def _next_event_usec(self) -> int | None:
        if not self.timers:
            return None
        return max(min(t.at_usec for t in self.timers.values()), self.clock.usec)

    # ------------------------------------------------------------------ softirqs
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

    def _timer_runner(self, timer: Timer) -> Callable[[], None]:
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
    def new_thread(self, comm: str) -> TH.Thread:
        thread = TH.Thread(self.machine, self._next_pid, comm, self._stacks)
        self._next_pid += 1
        self._stacks += 1
        self.threads.append(thread)
        self.by_task[thread.task] = thread
        return thread

    def make_runnable(self, thread: TH.Thread) -> None:
        if thread.state in ("new", "idle"):
            thread.state, thread.ready_seq = "runnable", self.next_seq()

    def try_to_wake_up(self, task: int, states: int) -> bool:
        """kernel/sched/core.c try_to_wake_up: a task in one of `states` becomes
        TASK_RUNNING (a thread sleeping in schedule() notices on its next poll)."""
        space = self.machine.space
        state = int.from_bytes(space.read(task + TH.TASK_STATE, 4), "little")
        if not state & states:
            return False
        space.write(task + TH.TASK_STATE, (TH.TASK_RUNNING).to_bytes(4, "little"))
        thread = self.by_task.get(task)
        if thread is not None:
            self.make_runnable(thread)
        return True

    def _pick(self) -> TH.Thread | None:
        for poll in self.pollers:  # e.g. a workqueue pool waking a worker for its work
            poll()
        for thread in self.threads:
            wait = thread.wait
            if thread.state == "blocked" and (wait.timed_out or wait.ready()):
                thread.state, thread.ready_seq = "runnable", self.next_seq()
        runnable = [t for t in self.threads if t.state == "runnable"]
        return min(runnable, key=lambda t: t.ready_seq) if runnable else None

    def _run(self, thread: TH.Thread) -> None:
        value = 0
        wait, thread.wait = thread.wait, None
        if wait is not None:
            if wait.timer is not None:
                self.del_timer(wait.timer)
            value = wait.finish(wait.timed_out)
        previous, self.current = self.current, thread
        thread.state = "running"
        try:
            outcome = TH.run(thread, value)
        finally:
            self.current = previous
        if outcome == "dead":
            self.threads.remove(thread)
            thread.release_stack()

    # ------------------------------------------------------------------ sleeping
    def sleep(self, call, wait: TH.Wait, timeout: int | None = None, frames=(),
              at_usec: int | None = None) -> int:
        """The running context sleeps until wait.ready() or, with `timeout` (jiffies), until
        schedule_timeout's timer fires (or an hrtimer at `at_usec`); returns
        wait.finish(timed_out). A thread is suspended (Blocked); the system call's task
        waits here while the machine runs."""
        self.check_atomic_sleep(call, list(frames))
        key = ("sleep", id(wait))
        if timeout is not None:
            wait.timer = key
            self.add_timer(key, self.jiffies + timeout, lambda: setattr(wait, "timed_out", True))
        elif at_usec is not None:
            wait.timer = key
            self.add_hrtimer(key, at_usec, lambda: setattr(wait, "timed_out", True))
        self.irqs_disabled = False  # the switch away turns interrupts on (finish_task_switch)
        thread = self.current
        if thread is not None and not self._in_softirq:
            TH.blocked_here(self.machine, thread, wait.what, wait.site)
            raise TH.Blocked(wait, call.return_address, call.machine.reg("rsp"))
        # The system call's task waits here; so does softirq work that sleeps against the
        # rules (its preempt count is gone: the machine goes on around it meanwhile).
        in_softirq, self._in_softirq = self._in_softirq, 0
        try:
            done = self.settle(until=self.clock.usec + HUNG_TASK_USEC,
                               done=lambda: wait.timed_out or wait.ready())
        finally:
            self._in_softirq = in_softirq
        if wait.timer is not None:
            self.del_timer(wait.timer)
        if not done:
            pid, comm = self.kernel.current
            raise SimulatorLimit(f"kcourse: {wait.site} sleeps in {wait.what}() and nothing "
                                 f"will wake it: on the real kernel {comm} (pid {pid}) would "
                                 "hang here for good (the hung task detector reports it after "
                                 "120 s)")
        return wait.finish(wait.timed_out)

    def check_atomic_sleep(self, call, frames: list[str]) -> None:
        """schedule_debug: __schedule() with more than its own preempt_disable() is
        "scheduling while atomic"; the count is then reset to PREEMPT_DISABLED and the task
        comes back from schedule() with none (kernel/sched/core.c)."""
        count = self.preempt_count()
        if count == 0:
            return
        from kcourse.machine import unwind

        thread = self.current if not self._in_softirq else None
        module_frames = unwind.module_frames(self.machine, call.return_address,
                                             self.machine.reg("rsp")) or [call.site]
        self.scheduling_while_atomic(frames + module_frames, call.caller,
                                     thread.workqueue if thread is not None else "")

    def scheduling_while_atomic(self, frames: list[str], module, workqueue: str = "",
                                below: list[str] | None = None) -> None:
        """The report, with the count __schedule() sees (one more, NEED_RESCHED masked), and
        the count reset as __schedule_bug's caller does. `below`: the kernel's frames under
        `frames` (else those of the running context)."""
        count = (self.preempt_count() + 1) & ~NEED_RESCHED
        pid, comm = self.kernel.current
        below = sched_reports.tail(self.kernel.syscall) if below is None else below
        lines = sched_reports.scheduling_while_atomic(
            self.kernel.machine(), pid, comm, count, frames, below, workqueue=workqueue)
        sched_reports.emit(self.kernel, module, lines)
        TH.set_preempt_raw(self.machine, NEED_RESCHED)
        while self.kernel.memory.in_atomic:
            self.kernel.memory.exit_atomic()
        TH.set_preempt_raw(self.machine, NEED_RESCHED)
        while self.kernel.memory.in_atomic:
            self.kernel.memory.exit_atomic()

    def settle(self, until: int | None = None, done: Callable[[], bool] | None = None,
               idle_until: bool = False) -> bool:
        """Let the machine run: softirq work due, runnable threads, and while nothing runs
        the clock jumps to the next timer, up to `until` (usec). Stops when done() holds;
        returns whether it does (True without `done`). With idle_until the clock also
        reaches `until` when nothing is left to do."""
        spins, moved_at = 0, self.clock.usec
        while True:
            if done is not None and done():
                return True
            if self.run_softirqs():
                continue
            thread = self._pick()
            if thread is not None:
                spins = spins + 1 if self.clock.usec == moved_at else 0
                moved_at = self.clock.usec
                if spins > SPIN_LIMIT:
                    raise SimulatorLimit(f"kcourse: kernel thread {thread.comm} keeps running "
                                         "without sleeping; on the real kernel it would take "
                                         "the CPU whenever it can")
                self._run(thread)
                continue
            event = self._next_event_usec() if self.softirqs_allowed() else None
            if event is None or (until is not None and event > until):
                if idle_until and until is not None:
                    self.advance_to(until)
                return done() if done is not None else True
            self.advance_to(event)

    def return_to_user(self) -> None:
        """A system call ends: what is runnable or due now runs before the caller goes on."""
        if self.machine._depth == 0 and not self.kernel.panicked:
            self.settle(until=self.clock.usec)

    def pass_time(self, usec: int) -> None:
        """`usec` of time pass with the shell idle: everything due meanwhile runs."""
        if not self.kernel.panicked:
            self.settle(until=self.clock.usec + max(0, usec), idle_until=True)


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


def softirq_fault(machine, fault) -> None:
    """A fault in softirq context: the oops, then "Fatal exception in interrupt" (panic)."""
    from kcourse.machine import faults

    kernel = machine.kernel
    report = faults.report(machine, fault, *kernel.current, in_interrupt=True)
    try:
        kernel.oops(machine.module_at(fault.rip), report)
    except TaskKilled:
        raise TaskKilled("Kernel panic - not syncing: Fatal exception in interrupt") from None
