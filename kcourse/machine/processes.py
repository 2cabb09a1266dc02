"""User processes that sleep inside a system call: the shell's background jobs.

A foreground command that sleeps in the kernel makes the shell wait (kcourse.machine.scheduler
Scheduler.sleep). A background job must not: bash goes on reading lines while `cat /proc/sleep &`
sleeps in the module's open until another process closes the file (LKMPG's sleep example).
So each background job is a UserTask:
- its commands run on a Python thread of their own, one thread at a time: the shell hands the
  machine over and waits until the job either ends or sleeps in the kernel (a coroutine, the
  two threads never run together);
- its system calls run module code on a THREAD_SIZE kernel stack of its own (with a guard
  page below, as every task's: kernel/fork.c alloc_thread_stack_node), so what the sleeping
  call keeps on its stack (the wait_queue_entry of wait_event(), linked into the module's
  queue) stays where the module put it while other processes make their calls;
- when that code sleeps (schedule() with the task not TASK_RUNNING: kcourse.kapi.sched), the
  CPU's registers are saved, the thread waits, and the scheduler holds the task as it holds a
  sleeping kernel thread; a wake-up (try_to_wake_up: kernel/sched/core.c) makes it runnable,
  and at the next scheduling point (a system call's return to user space, time passing,
  `wait`) the registers come back and schedule() returns into the module's code, which runs
  on to the end of the system call and the job's later commands.
Only the system call's own code can sleep so (depth 1: a callback kapi itself called from
there cannot be suspended: kcourse.machine.threads blocked_here). A task asleep resumes only
between system calls (machine depth 0), not inside another task's wait.

Signals (kernel/signal.c): a signal whose default action ends the process is fatal, and
complete_signal() turns it into SIGKILL in the task's own pending set, sets TIF_SIGPENDING
and wakes it from TASK_INTERRUPTIBLE or TASK_WAKEKILL sleeps (signal_wake_up(t, 1)). The
sleep then ends (prepare_to_wait_event returns -ERESTARTSYS: kcourse.kapi.wait), and at the
system call's return to user space the process dies (exit_to_user_mode_loop -> get_signal ->
do_group_exit with the first signal's number), its files closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

SIGKILL = 9
TIF_SIGPENDING = 2  # arch/x86/include/asm/thread_info.h
TASK_INTERRUPTIBLE, TASK_WAKEKILL = 0x0001, 0x0100  # include/linux/sched.h


class ProcessExit(BaseException):  # noqa: N818 - a control transfer, not an error
    """The process ends where it is: killed by `signal` (0: the simulator ends it)."""

    def __init__(self, signal: int):
        super().__init__(signal)
        self.signal = signal


# ------------------------------------------------------------------ signal state of a task
def _offsets() -> tuple[int, int]:
    from kcourse.kernel import structs

    # struct sigpending { struct list_head list; sigset_t signal; } (include/linux/signal_types.h)
    return structs.offsetof("task_struct", "pending") + 16, structs.offsetof("task_struct",
                                                                             "blocked")


def signal_pending(machine, task: int) -> bool:
    """signal_pending(): TIF_SIGPENDING in thread_info.flags, the task_struct's first word
    (CONFIG_THREAD_INFO_IN_TASK)."""
    return bool(machine.space.read_u64(task) >> TIF_SIGPENDING & 1)


def fatal_signal_pending(machine, task: int) -> bool:
    """__fatal_signal_pending(): SIGKILL in the task's own pending set."""
    pending, _blocked = _offsets()
    return bool(machine.space.read_u64(task + pending) >> (SIGKILL - 1) & 1)


def signal_pending_state(machine, state: int, task: int) -> bool:
    """include/linux/sched/signal.h signal_pending_state()."""
    if not state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL) or not signal_pending(machine, task):
        return False
    return bool(state & TASK_INTERRUPTIBLE) or fatal_signal_pending(machine, task)


def clear_signals(machine, task: int) -> None:
    """The process is gone: the next one the simulator runs under the same pid and comm (the
    same task_struct here) starts with no signal pending, as a new task does (copy_process
    init_sigpending)."""
    pending, _blocked = _offsets()
    space = machine.space
    space.write_u64(task + pending, 0)
    space.write_u64(task, space.read_u64(task) & ~(1 << TIF_SIGPENDING))


def make_fatal(machine, task: int) -> None:
    """complete_signal() for a fatal signal: SIGKILL added to t->pending.signal, then
    signal_wake_up_state's set_tsk_thread_flag(t, TIF_SIGPENDING)."""
    pending, _blocked = _offsets()
    space = machine.space
    space.write_u64(task + pending, space.read_u64(task + pending) | 1 << (SIGKILL - 1))
    space.write_u64(task, space.read_u64(task) | 1 << TIF_SIGPENDING)


# ------------------------------------------------------------------ the task
class UserTask:
    """One background job's process. `body` runs its commands (on the task's thread); `comm`
    names the job in messages (its command line); `states` are (get, put) pairs of the
    caller's state that is the job's own while it runs (the shell's $? and job bookkeeping).
    The kernel's idea of the calling task is swapped here."""

    user = True  # the scheduler resumes it only between system calls
    kind = "user"
    workqueue = ""

    def __init__(self, kernel, body: Callable[[], None], comm: str,
                 states: tuple[tuple[Callable[[], object], Callable[[object], None]], ...] = ()):
        self.kernel, self.body, self.comm = kernel, body, comm
        self.states = ((self._kernel_state, self._put_kernel_state), *states)
        self._own: list | None = None
        # scheduler bookkeeping while it sleeps (the fields a kcourse.machine.threads.Thread has)
        self.state = "new"  # new | running | blocked | done
        self.wait = None
        self.ready_seq = 0
        self.depth = 1
        self.task = 0  # the task_struct that sleeps
        self.context = None  # its registers while it sleeps
        self.resume_rsp = 0
        self.stack_base: int | None = None
        self.inside: list = []  # while asleep: the modules its system call is inside
        self.signal = 0  # the fatal signal that ends it, once sent
        self.opened: set[int] = set()  # kernel fds its system calls opened
        # the coroutine
        self._go, self._back = threading.Semaphore(0), threading.Semaphore(0)
        self._thread: threading.Thread | None = None
        self._value = 0
        self._abort = False
        self._error: BaseException | None = None
        self._exiting = False

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def asleep(self) -> bool:
        return self.state == "blocked"

    # -------------------------------------------------------------- handing over
    def start(self) -> None:
        """Run the job until it ends or sleeps in the kernel."""
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"kcourse job {self.comm[:40]}")
        self._hand_over(self._thread.start)

    def resume(self, value: int) -> None:
        """The scheduler runs it: schedule() returns `value` into its code."""
        self._value = value
        self._hand_over(self._go.release)

    def abort(self) -> None:
        """End a sleeping job where it is (the simulator stops: Shell.close)."""
        if self.asleep:
            self._leave_scheduler()
            self._abort, self.signal = True, self.signal or SIGKILL
            self._hand_over(self._go.release)

    def _hand_over(self, go: Callable[[], None]) -> None:
        outer = [get() for get, _put in self.states]
        if self._own is not None:
            for (_get, put), own in zip(self.states, self._own, strict=True):
                put(own)
        self.kernel.user_task = self
        fds_before = set(self.kernel.fds)
        self.state = "running"
        go()
        interrupted = False
        while True:  # until the job sleeps again or ends (its code runs on a budget)
            try:
                self._back.acquire()
                break
            except KeyboardInterrupt:  # never two threads on the machine at once
                interrupted = True
        fds = self.kernel.fds  # what it opened and has not closed (fd numbers are reused)
        self.opened = {fd for fd in self.opened if fd in fds} | (set(fds) - fds_before)
        self._own = [get() for get, _put in self.states]
        for (_get, put), state in zip(self.states, outer, strict=True):
            put(state)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if interrupted:
            raise KeyboardInterrupt

    def _main(self) -> None:
        try:
            self.body()
        except ProcessExit:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the shell's thread
            self._error = exc
        finally:
            self.state = "done"
            if self.signal and self.task:
                clear_signals(self.kernel.emulator, self.task)
            self._release_stack()
            self._back.release()

    def _suspend(self) -> int:
        """On the task's thread: give the machine back until resumed."""
        self._back.release()
        self._go.acquire()
        if self._abort:
            raise ProcessExit(self.signal)
        return self._value

    def own_current(self) -> tuple[int, str]:
        """(pid, comm) of the process while it sleeps (the kernel's `current` in it)."""
        return self._own[0][0] if self._own else self.kernel.current

    def _kernel_state(self):
        """Whose the running process is: the kernel's `current` (and the ledger's), the
        system call, and on the machine %gs:current_task and the process's user memory."""
        k, machine = self.kernel, self.kernel._emulator
        on_cpu = None
        if machine is not None:
            from kcourse.machine import tasks as T

            on_cpu = (machine.space.read_u64(machine.percpu + T.CURRENT_TASK),
                      machine.objects.get("user"))
        return (k.current, k.syscall, k._task, (k.memory.pid, k.memory.comm),
                getattr(k, "user_task", None), on_cpu)

    def _put_kernel_state(self, state) -> None:
        k, machine = self.kernel, self.kernel._emulator
        k.current, k.syscall, k._task, owner, k.user_task, on_cpu = state
        k.memory.set_current(*owner)
        if machine is not None and on_cpu is not None:
            from kcourse.machine import tasks as T

            task, user = on_cpu
            machine.space.write_u64(machine.percpu + T.CURRENT_TASK, task)
            if user is None:
                machine.objects.pop("user", None)
            else:
                machine.objects["user"] = user

    # -------------------------------------------------------------- its system calls
    def stack_top(self, machine) -> int:
        """Its kernel stack, made at its first call into module code."""
        if self.stack_base is None:
            from kcourse.machine import cpu as C
            from kcourse.machine import scheduler
            from kcourse.machine import threads as TH

            sched = scheduler.of(machine)
            self.stack_base = TH.THREAD_STACKS + sched._stacks * TH.STACK_STRIDE + C.PAGE
            sched._stacks += 1
            machine.space.map(self.stack_base, self.kernel.config_thread_size)
        return self.stack_base + self.kernel.config_thread_size

    def _release_stack(self) -> None:
        machine = self.kernel._emulator
        if self.stack_base is not None and machine is not None:
            machine.space.unmap(self.stack_base, self.kernel.config_thread_size)
            self.stack_base = None

    def run(self, machine, address: int, budget: int) -> int:
        """Machine.call from this task's system call (its registers and stack set up): run
        to RETURN_TRAP, sleeping as often as the code sleeps; returns %rax."""
        from kcourse.machine import scheduler
        from kcourse.machine import threads as TH

        sched, cpu = scheduler.of(machine), machine.cpu
        start, value = address, None
        while True:
            previous, sched.current = sched.current, self
            base, machine.stack_base = machine.stack_base, self.stack_base
            try:
                if value is not None:
                    cpu.uc.context_restore(self.context)
                    self.context = None
                    cpu.set_reg("rsp", self.resume_rsp)
                    cpu.set_reg("rax", value)
                return machine.run_from(start, budget)
            except TH.Blocked as blocked:
                self.context = cpu.uc.context_save()
                start, self.resume_rsp = blocked.return_address, blocked.rsp + 8
                self.wait, self.task = blocked.wait, TH.current_task(machine)
            finally:
                sched.current = previous
                machine.stack_base = base
            value = self._sleep(machine, sched)

    def _sleep(self, machine, sched) -> int:
        """Asleep in the kernel: the scheduler holds it; the shell goes on meanwhile."""
        self.state, self.ready_seq = "blocked", 0
        sched.threads.append(self)
        sched.by_task[self.task] = self
        depth, running = machine._depth, list(machine._running)
        self.inside = running  # the modules whose code it sleeps in
        machine._depth = 0  # the machine is between system calls for whoever runs now
        machine._running.clear()
        try:
            return self._suspend()
        finally:
            machine._depth = depth
            machine._running[:] = running

    def _leave_scheduler(self) -> None:
        from kcourse.machine import scheduler

        sched = scheduler.of(self.kernel.emulator)
        if self in sched.threads:
            sched.threads.remove(self)
        sched.by_task.pop(self.task, None)
        if self.wait is not None and self.wait.timer is not None:
            sched.del_timer(self.wait.timer)

    def woken(self, value: int) -> None:
        """Scheduler._run: its wait is over."""
        self._leave_scheduler()
        self.wait = None
        self.resume(value)

    # -------------------------------------------------------------- signals
    def kill(self, sig: int) -> bool:
        """A fatal signal sent to the sleeping task (complete_signal -> signal_wake_up(t, 1)):
        returns whether its sleep ends because of it."""
        from kcourse.machine import scheduler

        machine = self.kernel.emulator
        self.signal = self.signal or sig
        make_fatal(machine, self.task)
        scheduler.of(machine).try_to_wake_up(self.task, TASK_INTERRUPTIBLE | TASK_WAKEKILL)
        wait = self.wait
        return wait is not None and (wait.timed_out or wait.ready())

    def exit_if_signalled(self) -> None:
        """At the return to user space: a fatal signal ends the process."""
        if self.signal and not self._exiting:
            raise ProcessExit(self.signal)

    def close_files(self) -> None:
        """do_exit's exit_files: the files its system calls opened and left open."""
        from kcourse.kernel.kernel import TaskKilled

        self._exiting = True
        for fd in sorted(self.opened):
            if fd in self.kernel.fds and not self.kernel.panicked:
                try:
                    self.kernel.close(fd)
                except TaskKilled:  # an oops in ->release: printed; the exit goes on
                    pass
        self.opened.clear()


def asleep_in(machine, module) -> list[UserTask]:
    """The jobs' processes asleep inside `module`'s code."""
    from kcourse.machine import scheduler

    return [t for t in scheduler.of(machine).threads
            if getattr(t, "user", False) and module in t.inside]


def wait_for(kernel, tasks: list[UserTask], usec: int) -> bool:
    """`wait`: the machine runs (time passing, timers firing) until every task has ended, or
    for `usec` at most; returns whether they all ended."""
    from kcourse.machine import scheduler

    machine = kernel._emulator
    if all(t.done for t in tasks) or machine is None or kernel.panicked:
        return all(t.done for t in tasks)
    sched = scheduler.of(machine)
    return sched.settle(until=sched.clock.usec + usec, done=lambda: all(t.done for t in tasks))
