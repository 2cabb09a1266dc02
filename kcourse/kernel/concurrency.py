"""Two threads in the same module function: every interleaving, and which ones lose updates.

Module code is re-entrant: the same read()/write() handler runs for several processes, or
several threads of one process (user programs can be multi-threaded: clone with CLONE_THREAD),
on several CPUs at once, and may be preempted (Debian: CONFIG_PREEMPT_DYNAMIC, voluntary by
default). `counter++` on shared data compiles to three steps - load into a register, add,
store back - and another thread can run between any two of them.

This module is a deterministic scheduler. A thread is a list of steps; `explore()` tries every
order of the threads' steps that keeps each thread's own order (for two threads of k steps that
is C(2k, k) schedules) and reports the final counter of each. A schedule is written as the
thread letters in the order they run, e.g. "ABABAB". With a mutex or a spinlock around the
increment a thread cannot enter while the other holds the lock, so no schedule loses an update;
atomic_inc() is one indivisible step (a `lock incl` on x86).

What differs between a mutex and a spinlock is what you may do while holding it: spin_lock()
disables preemption (atomic context), so anything that may sleep - copy_from_user/copy_to_user
(might_fault, lib/usercopy.c:14,36), kmalloc(GFP_KERNEL) (might_alloc,
include/linux/sched/mm.h:274), mutex_lock (kernel/locking/mutex.c:283) - is a bug there.
A kernel with CONFIG_DEBUG_ATOMIC_SLEEP=y says `BUG: sleeping function called from invalid
context at <file>:<line>` (kernel/sched/core.c:9998, __might_resched); Debian's config leaves
that option off, and then the bug shows only when the code really sleeps
(`BUG: scheduling while atomic`, core.c:5791), or as a hang.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from math import comb

from kcourse.errors import KcourseError
from kcourse.kernel import oops

# what may sleep, and where its might_sleep()/might_fault() check sits (Linux 6.1)
SLEEPING_CALLS = {
    "copy_from_user": "lib/usercopy.c:14",
    "copy_to_user": "lib/usercopy.c:36",
    "kmalloc(GFP_KERNEL)": "include/linux/sched/mm.h:274",
    "mutex_lock": "kernel/locking/mutex.c:283",
}
NON_SLEEPING_CALLS = {"kmalloc(GFP_ATOMIC)", "printk"}
LOCK_KINDS = ("none", "mutex", "spinlock", "atomic")
MAX_SCHEDULES = 200_000


@dataclass(frozen=True)
class Step:
    op: str  # load | add | store | lock | unlock | atomic_inc | call
    arg: str = ""  # lock name, or the called function

    def __str__(self) -> str:
        return f"{self.op}({self.arg})" if self.arg else self.op


def increment(lock: str = "none", times: int = 1) -> list[Step]:
    """The steps of `times` x `counter++`, unprotected or under a mutex/spinlock, or atomic."""
    if lock not in LOCK_KINDS:
        raise KcourseError(f"unknown lock kind {lock!r}; use one of {', '.join(LOCK_KINDS)}")
    one = {"none": [Step("load"), Step("add"), Step("store")],
           "atomic": [Step("atomic_inc")]}.get(lock)
    if one is None:
        one = [Step("lock", lock), Step("load"), Step("add"), Step("store"), Step("unlock", lock)]
    return one * times


@dataclass(frozen=True)
class Schedule:
    order: str  # thread letters in the order they ran, "AABBAB"
    final: int
    expected: int
    trace: tuple[str, ...]  # "A:load counter=0 -> r=0", ...

    @property
    def lost(self) -> int:
        return self.expected - self.final


@dataclass
class Exploration:
    schedules: list[Schedule] = field(default_factory=list)

    def outcomes(self) -> dict[int, int]:
        """Final counter value -> how many schedules end with it (sorted by value)."""
        return dict(sorted(Counter(s.final for s in self.schedules).items()))

    def losing(self) -> list[str]:
        return [s.order for s in self.schedules if s.lost]

    def summary(self) -> str:
        n = len(self.schedules)
        parts = [f"{count} end with counter={value}" for value, count in self.outcomes().items()]
        lost = len(self.losing())
        return f"{n} schedules: " + ", ".join(parts) + f"; {lost} lose an update"


def _letters(n: int) -> str:
    return "ABCDEFGH"[:n]


def _run(programs: list[list[Step]], order: str, initial: int = 0) -> Schedule:
    """Run one schedule; KcourseError if it is not a possible order for these threads."""
    names = _letters(len(programs))
    pcs, regs, counter, holder = [0] * len(programs), [0] * len(programs), initial, {}
    trace = []
    for letter in order:
        if letter not in names:
            raise KcourseError(f"schedule {order!r}: no thread {letter!r} (threads: {names})")
        t = names.index(letter)
        if pcs[t] >= len(programs[t]):
            raise KcourseError(f"schedule {order!r}: thread {letter} has no steps left")
        step = programs[t][pcs[t]]
        if step.op == "lock" and holder.get(step.arg, t) != t:
            raise KcourseError(f"schedule {order!r}: thread {letter} cannot take the "
                               f"{step.arg} while thread {names[holder[step.arg]]} holds it")
        counter = _apply(step, t, regs, counter, holder)
        trace.append(f"{letter}:{step} counter={counter} r{letter}={regs[t]}")
        pcs[t] += 1
    if pcs != [len(p) for p in programs]:
        raise KcourseError(f"schedule {order!r} does not run every step "
                           f"({sum(len(p) for p in programs)} steps)")
    expected = initial + sum(1 for p in programs for s in p if s.op in ("add", "atomic_inc"))
    return Schedule(order, counter, expected, tuple(trace))


def _apply(step: Step, t: int, regs: list[int], counter: int, holder: dict) -> int:
    if step.op == "load":
        regs[t] = counter
    elif step.op == "add":
        regs[t] += 1
    elif step.op == "store":
        counter = regs[t]
    elif step.op == "atomic_inc":
        counter += 1
        regs[t] = counter
    elif step.op == "lock":
        holder[step.arg] = t
    elif step.op == "unlock":
        holder.pop(step.arg, None)
    return counter


def run_schedule(programs: list[list[Step]], order: str, initial: int = 0) -> Schedule:
    return _run(programs, order.replace(" ", ""), initial)


def count_interleavings(lengths: list[int]) -> int:
    """Orders of the steps that keep each thread's own order: the multinomial coefficient."""
    total, left = 1, sum(lengths)
    for k in lengths:
        total *= comb(left, k)
        left -= k
    return total


def explore(programs: list[list[Step]], initial: int = 0) -> Exploration:
    """Every feasible schedule, depth first, thread A before B at each choice."""
    names = _letters(len(programs))
    found: list[str] = []

    def walk(pcs: list[int], holder: dict, prefix: str) -> None:
        if len(found) > MAX_SCHEDULES:
            raise KcourseError(f"more than {MAX_SCHEDULES} schedules: use random_schedules()")
        runnable = []
        for t, prog in enumerate(programs):
            if pcs[t] < len(prog):
                step = prog[pcs[t]]
                if step.op == "lock" and holder.get(step.arg, t) != t:
                    continue  # spins (spinlock) or sleeps (mutex): no progress either way
                runnable.append(t)
        if not runnable:
            if all(pcs[t] == len(p) for t, p in enumerate(programs)):
                found.append(prefix)
            return
        for t in runnable:
            step = programs[t][pcs[t]]
            new_holder = dict(holder)
            if step.op == "lock":
                new_holder[step.arg] = t
            elif step.op == "unlock":
                new_holder.pop(step.arg, None)
            pcs[t] += 1
            walk(pcs, new_holder, prefix + names[t])
            pcs[t] -= 1

    walk([0] * len(programs), {}, "")
    return Exploration([_run(programs, order, initial) for order in found])


def random_schedules(programs: list[list[Step]], runs: int, seed: int = 0,
                     initial: int = 0) -> Counter:
    """For cases too big to enumerate: `runs` random schedules (seeded) -> final value counts."""
    rng = random.Random(seed)
    names = _letters(len(programs))
    results: Counter = Counter()
    for _ in range(runs):
        pcs, holder, order = [0] * len(programs), {}, []
        while True:
            runnable = [t for t, p in enumerate(programs) if pcs[t] < len(p) and not (
                p[pcs[t]].op == "lock" and holder.get(p[pcs[t]].arg, t) != t)]
            if not runnable:
                break
            t = rng.choice(runnable)
            step = programs[t][pcs[t]]
            if step.op == "lock":
                holder[step.arg] = t
            elif step.op == "unlock":
                holder.pop(step.arg, None)
            pcs[t] += 1
            order.append(names[t])
        results[_run(programs, "".join(order), initial).final] += 1
    return Counter(dict(sorted(results.items())))


@dataclass(frozen=True)
class SleepBug:
    call: str
    lock: str
    lines: tuple[tuple[int, str], ...]

    @property
    def text(self) -> str:
        return oops.text(list(self.lines))


def check_sleeping(program: list[Step], pid: int = 1234, comm: str = "cat",
                   site: str = "") -> list[SleepBug]:
    """Every call that may sleep while a spinlock is held, with the debug kernel's report."""
    held: list[str] = []
    bugs = []
    for step in program:
        if step.op == "lock":
            held.append(step.arg)
        elif step.op == "unlock" and step.arg in held:
            held.remove(step.arg)
        elif step.op == "call" and "spinlock" in held:
            where = SLEEPING_CALLS.get(step.arg)
            if where is None and step.arg not in NON_SLEEPING_CALLS:
                known = ", ".join(sorted(SLEEPING_CALLS) + sorted(NON_SLEEPING_CALLS))
                raise KcourseError(f"unknown call {step.arg!r}: known are {known}")
            if where:
                lines = oops.might_sleep_lines(where, pid, comm, preempt_count=held.count(
                    "spinlock"), site=site)
                bugs.append(SleepBug(step.arg, "spinlock", tuple(lines)))
    return bugs
