"""The machine's one CPU shared out in time: timers, softirqs and kernel threads.

The lab's guest has one CPU (QEMU -smp 1) and Debian's 6.1 preempts voluntarily
(CONFIG_PREEMPT_VOLUNTARY, PREEMPT_DYNAMIC): a task keeps the CPU until it sleeps, returns to
user space, or reaches a voluntary preemption point. So, on the Kernel's logical clock:
- Timers (kcourse.machine.wheel) fire at the tick that reaches their bucket, in softirq
  context (preempt_count has SOFTIRQ_OFFSET: in_softirq(), in_interrupt()).
- Softirq work (HI tasklets, expired timers, tasklets: kernel/softirq.c's order; see
  kcourse.machine.softirqs) runs at a tick interrupt's exit when interrupts are on and the
  CPU is not in an interrupt or under local_bh_disable (invoke_softirq): during a busy-wait
  at each tick it crosses, when a task sleeps, and between system calls; on the idle task
  (swapper/0, pid 0) or ksoftirqd/0 when nothing runs.
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

from collections.abc import Callable
from dataclasses import dataclass

from kcourse.kernel import sched_reports
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import threads as TH
from kcourse.machine import wheel as W
from kcourse.machine.softirqs import Softirqs

SOFTIRQ_OFFSET, SOFTIRQ_DISABLE_OFFSET = 0x100, 0x200  # include/linux/preempt.h
IRQ_MASKS = 0x00FF_FF00  # SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK: in_interrupt()
NEED_RESCHED = TH.PREEMPT_ENABLED  # the inverted bit x86 keeps in __preempt_count
HUNG_TASK_USEC = 120 * 1_000_000  # CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120
SPIN_LIMIT = 10_000  # thread slices without the clock moving: a thread that never sleeps


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


class Scheduler(Softirqs):
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
        between_calls = self.machine._depth == 0
        for thread in self.threads:
            wait = thread.wait
            if thread.state == "blocked" and (wait.timed_out or wait.ready()) and \
                    (between_calls or not getattr(thread, "user", False)):
                thread.state, thread.ready_seq = "runnable", self.next_seq()
        runnable = [t for t in self.threads if t.state == "runnable"]
        return min(runnable, key=lambda t: t.ready_seq) if runnable else None

    def _run(self, thread: TH.Thread) -> None:
        value = 0
        wait, thread.wait = thread.wait, None
        if wait is not None:
            if not (wait.timed_out or wait.ready()):  # another woke first and took it
                thread.wait, thread.state = wait, "blocked"
                return
            if wait.timer is not None:
                self.del_timer(wait.timer)
            value = wait.finish(wait.timed_out)
        if getattr(thread, "user", False):  # a background job's process (its own thread)
            thread.woken(value)
            return
        previous, self.current = self.current, thread
        thread.state = "running"
        try:
            TH.run(thread, value)
        finally:
            self.current = previous
            if thread.state == "dead":  # returned, exited, oopsed or stopped by a limit
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
            held = [t for t in self.threads if getattr(t, "user", False) and t.state == "blocked"
                    and (t.wait.timed_out or t.wait.ready())]
            if held:  # kcourse.machine.processes: a job runs on only between system calls
                raise SimulatorLimit(
                    f"kcourse: {wait.site} sleeps in {wait.what}() while a background job "
                    f"(`{held[0].comm}`) that may wake it is ready to run; the simulator runs a "
                    "job on only between system calls, not during another's sleep; run it on "
                    "the real kernel with `kcourse sim --real`")
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
            task = getattr(self.kernel, "user_task", None)
            if task is not None:  # a fatal signal ends a job's process here
                task.exit_if_signalled()

    def pass_time(self, usec: int) -> None:
        """`usec` of time pass with the shell idle: everything due meanwhile runs."""
        if not self.kernel.panicked:
            self.settle(until=self.clock.usec + max(0, usec), idle_until=True)
