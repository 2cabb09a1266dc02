"""Background jobs of the simulated shell: `cmd &`, `$!`, `wait`, `kill %N` / `kill PID`, `jobs`.

The simulated machine runs one thing at a time, so a background job runs at once when its
line reaches the `&` (its output and its kernel log lines belong to that line, as on the
lab's guest when the job ends before the line does), to its end or until a system call of
its sleeps in the kernel (module code waiting on a wait queue: kcourse.machine.processes).
A job asleep in the kernel stays in the table, running, while the shell goes on; when
something wakes it (another process's system call, a timer), it runs on at the next
scheduling point: that call's return to user space, time passing, the shell waiting for its
next line, `wait`. What it prints then belongs to the line running at the time. `kill` sends
it the signal: an interruptible sleep ends (-ERESTARTSYS) and the process dies as its system
call returns (status 128 + the signal); an uninterruptible one sleeps on, as on the real
kernel. `wait` lets the machine run until the job ends; a job that nothing wakes within the
hung-task timeout (120 s) gets one line (bash would wait for good) and `wait` returns 1.

What else keeps a job "running" is time: each `sleep N` in it adds N seconds, on the shell's
logical clock, which only a foreground `sleep` and `wait` advance. Until then the job is in
the job table and `kill` can end it (its status then 128 + the signal, as bash reports a job
killed by a signal); a kill that comes after the job's later commands already ran says so in
one line, since the simulator cannot undo them.

bash (5.2, interactive, without job control: the lab's `bash -i` on a file) prints
`[N] PID` on stderr for each job it starts (jobs.c describe_pid), numbers jobs from the
lowest free number, forgets finished jobs before it reads the next line (notify_and_cleanup)
and a job it waited for at once, but remembers their statuses for `wait PID` (bgp_search),
and says nothing when a job ends. (Whether a job that ends just before the next line is
already forgotten is a race in bash; the lab's runner leaves it time, and so does this.)
Messages are the kill and wait builtins' (builtins/kill.def, wait.def, common.c).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kcourse.shell.context import Ctx

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15}
KILL_USAGE = ("kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or "
              "kill -l [sigspec]\n")
FIRST_PID = 2000  # the simulated machine's first background process
HUNG_TASK_USEC = 120 * 1_000_000  # CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120: how long `wait` waits
TASK_UNINTERRUPTIBLE, TASK_WAKEKILL = 0x0002, 0x0100  # include/linux/sched.h


@dataclass
class Job:
    number: int
    pid: int
    text: str         # the command as typed, for `jobs`
    status: int       # the and-or list's status (set when it ran)
    ends_at: float    # logical time when its sleeps are over
    after_sleep: bool  # whether commands ran after a sleep (what a kill cannot undo)
    killed: int = 0   # the signal that ended it
    task: object = None  # its process while it sleeps in the kernel (processes.UserTask)
    single: bool = False  # one simple command: the job's process is that command's
    comm: str = "bash"  # the job's process (a subshell, or the single command's program)
    files: dict = field(default_factory=dict)  # fd -> kernel fd it inherited and holds
    out: list = field(default_factory=list)  # what it printed, not yet shown
    err: list = field(default_factory=list)

    def asleep(self) -> bool:
        return self.task is not None and not self.task.done

    def running(self, now: float) -> bool:
        return self.asleep() or not self.killed and now < self.ends_at


class JobTable:
    def __init__(self, kernel=None) -> None:
        self.kernel = kernel
        self.jobs: list[Job] = []
        self.statuses: dict[int, int] = {}  # pid -> status of every job started
        self.last_pid: int | None = None    # $!
        self.clock = 0.0
        self.next_pid = FIRST_PID

    def new_line(self) -> None:
        """notify_and_cleanup before a line is read: finished jobs leave the table."""
        self.jobs = [j for j in self.jobs if j.running(self.clock)]

    def start(self, text: str) -> Job:
        used = {j.number for j in self.jobs}
        number = next(n for n in range(1, len(used) + 2) if n not in used)
        job = Job(number, self.next_pid, text, 0, self.clock, False)
        self.next_pid += 1
        self.jobs.append(job)
        self.last_pid = job.pid
        return job

    def finish(self, job: Job, status: int, slept: float, after_sleep: bool) -> None:
        job.status, job.ends_at, job.after_sleep = status, self.clock + slept, after_sleep
        self.statuses[job.pid] = status

    def find(self, spec: str) -> Job | None:
        """A jobspec: %N, %% / %+ (the current job: the newest), %- (the one before)."""
        body = spec[1:]
        if body in ("", "%", "+"):
            return self.jobs[-1] if self.jobs else None
        if body == "-":
            return self.jobs[-2] if len(self.jobs) > 1 else None
        if body.isdigit():
            return next((j for j in self.jobs if j.number == int(body)), None)
        return None

    def by_pid(self, pid: int) -> Job | None:
        return next((j for j in self.jobs if j.pid == pid), None)

    def asleep(self) -> list[Job]:
        return [j for j in self.jobs if j.asleep()]

    def drain(self, out: list[str], errs: list[str]) -> None:
        """What the jobs printed since: to the terminal, i.e. the line running now."""
        for job in self.jobs:
            out.extend(job.out)
            errs.extend(job.err)
            job.out.clear()
            job.err.clear()

    def wait_for(self, waited: list[Job], ctx: Ctx) -> bool:
        """Let the machine run until the jobs asleep in the kernel among `waited` end; one
        line for each that nothing wakes (bash would wait for ever)."""
        from kcourse.machine import processes

        sleeping = [j for j in waited if j.asleep()]
        if not sleeping or processes.wait_for(self.kernel, [j.task for j in sleeping],
                                              HUNG_TASK_USEC):
            return True
        for job in sleeping:
            if job.asleep():
                ctx.err(f"kcourse: wait: job {job.number} ({job.text}) sleeps in "
                        f"{_sleep_text(job.task)} and nothing wakes it: bash would wait for it "
                        f"for good; the simulator stops waiting{_how_to_end(job)}\n")
        return False


def _sleep_text(task) -> str:
    wait = task.wait
    return f"{wait.what}() at {wait.site}" if wait is not None else "the kernel"


def _how_to_end(job: Job) -> str:
    from kcourse.machine import threads

    state = threads.read_state(job.task.kernel.emulator, job.task.task)
    if state & TASK_UNINTERRUPTIBLE and not state & TASK_WAKEKILL:
        return (" (not even kill -9 ends it: it sleeps in TASK_UNINTERRUPTIBLE; the hung "
                "task detector would report it after 120 s)")
    return f" (kill %{job.number} ends it)"


def signal_number(spec: str) -> int | None:
    if spec.isdigit():
        return int(spec) if int(spec) < 65 else None
    name = spec.upper().removeprefix("SIG")
    return SIGNALS.get(name)


def kill(table: JobTable, argv: list[str], ctx: Ctx) -> int:
    """The kill builtin on jobs of this shell (builtins/kill.def)."""
    args = argv[1:]
    sig = 15
    if args and args[0] in ("-s", "-n"):
        if len(args) < 2:
            ctx.err(f"bash: kill: {args[0]}: option requires an argument\n")
            return 1
        spec, args = args[1], args[2:]
        if signal_number(spec) is None:
            ctx.err(f"bash: kill: {spec}: invalid signal specification\n")
            return 1
        sig = signal_number(spec) or 0
    elif args and args[0] in ("-l", "-L"):
        ctx.err("kshell: kill -l is not simulated (see `kill -l` on the real kernel: "
                "kcourse sim --real)\n")
        return 1
    elif args and args[0].startswith("-") and args[0] != "-":
        spec = args[0][1:]
        if signal_number(spec) is None:
            ctx.err(f"bash: kill: {spec}: invalid signal specification\n")
            return 1
        sig, args = signal_number(spec) or 0, args[1:]
    if not args:
        ctx.err(KILL_USAGE)
        return 2
    if sig not in (0, *SIGNALS.values()):
        ctx.err(f"kshell: kill -{sig} (a signal that does not end a process) is not "
                "simulated\n")
        return 1
    rc = 0
    for arg in args:
        if arg.startswith("%"):
            job = table.find(arg)
            if job is None:
                ctx.err(f"bash: kill: {arg}: no such job\n")
                rc = 1
                continue
        elif re.fullmatch(r"-?[0-9]+", arg):
            job = table.by_pid(int(arg))
            if job is None or not job.running(table.clock):
                ctx.err(f"bash: kill: ({arg}) - No such process\n")
                rc = 1
                continue
        else:
            ctx.err(f"bash: kill: {arg}: arguments must be process or job IDs\n")
            rc = 1
            continue
        if sig and job.asleep():
            _signal(table, job, sig, ctx)
        elif sig and job.running(table.clock):
            job.killed = sig
            table.statuses[job.pid] = 128 + sig
            if job.after_sleep:
                ctx.err(f"kshell: job {job.number} had already run to its end (the simulator "
                        "runs a background job at once); what it did is not undone\n")
    return rc


def _signal(table: JobTable, job: Job, sig: int, ctx: Ctx) -> None:
    """kill(2) to a job asleep in the kernel: the signal is fatal (no handler), so the process
    dies once its sleep ends and its system call returns. bash's kill returns, bash reads the
    next line, and the woken process runs meanwhile."""
    task = job.task
    wait = task.wait
    # schedule()'s wait (wait_event*) ends exactly as the kernel's; another kernel function's
    # interruptible or killable sleep may not be modelled to end on a signal
    what = wait.what if wait is not None else "schedule"
    if not task.kill(sig) and what != "schedule" and "uninterruptible" not in what and \
            ("interruptible" in what or "killable" in what):
        ctx.err(f"kcourse: kill: job {job.number} sleeps in {wait.what}() at {wait.site}, "
                "whose end by a signal the simulator does not model: it sleeps on (see it on "
                "the real kernel with `kcourse sim --real`)\n")
    table.kernel.run_deferred()


def wait(table: JobTable, argv: list[str], ctx: Ctx) -> int:
    """The wait builtin (builtins/wait.def): all jobs, or each %N / PID; the last one's status."""
    args = argv[1:]
    if args and args[0].startswith("-") and args[0] != "-":
        ctx.err(f"kshell: wait {args[0]} is not simulated\n")
        return 1
    if not args:
        ended = table.wait_for(table.jobs, ctx)
        table.clock = max([table.clock, *(j.ends_at for j in table.jobs if not j.killed)])
        # waited for: gone from the table at once (jobs.c cleanup_dead_jobs)
        table.jobs = [j for j in table.jobs if j.asleep()]
        return 0 if ended else 1
    rc = 0
    for arg in args:
        if arg.startswith("%"):
            job = table.find(arg)
            if job is None:
                ctx.err(f"bash: wait: {arg}: no such job\n")
                rc = 127
                continue
            pid = job.pid
        elif arg.isdigit():
            pid = int(arg)
            if pid not in table.statuses:
                ctx.err(f"bash: wait: pid {arg} is not a child of this shell\n")
                rc = 127
                continue
        else:
            ctx.err(f"bash: wait: `{arg}': not a pid or valid job spec\n")
            rc = 1
            continue
        job = table.by_pid(pid)
        if job is not None and not table.wait_for([job], ctx):
            rc = 1
            continue
        if job is not None:
            if job.running(table.clock):
                table.clock = job.ends_at
            table.jobs.remove(job)
        rc = table.statuses[pid]
    return rc


def jobs(table: JobTable, argv: list[str], ctx: Ctx) -> int:
    """`jobs`: the jobs still in the table, bash's format (jobs.c pretty_print_job)."""
    if len(argv) > 1:
        ctx.err("kshell: jobs options are not simulated\n")
        return 1
    for i, job in enumerate(table.jobs):
        mark = "+" if i == len(table.jobs) - 1 else "-" if i == len(table.jobs) - 2 else " "
        if job.running(table.clock):
            state = "Running"
        elif job.killed:
            state = "Terminated" if job.killed == 15 else "Killed" if job.killed == 9 else \
                f"Signal {job.killed}"
        else:
            state = "Done" if job.status == 0 else f"Exit {job.status}"
        ctx.out(f"[{job.number}]{mark}  {state:<24}{job.text}{' &' if state == 'Running' else ''}"
                "\n")
    return 0
