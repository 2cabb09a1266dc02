"""Two or more CPUs in one kernel address space, running a module's own instructions in turn.

On a machine with two CPUs (the lab's guest with -smp 2) two processes can be inside the same
module function at once: `echo 1 > /dev/racy` on CPU 0 while another `echo` writes on CPU 1.
Here each CPU has what a real one has of its own:
- its registers (a saved unicorn context), so each is somewhere else in the code;
- its per-cpu area, its GS base: `current_task` (the task that made the system call) and
  `__preempt_count` (arch/x86/kernel/cpu/common.c), `cpu_number`, `this_cpu_off`
  (arch/x86/kernel/setup_percpu.c), and at %gs:0x28 the running task's stack canary
  (fixed_percpu_data, which __switch_to_asm sets, arch/x86/entry/entry_64.S);
- the task it runs: a task_struct with its own pid, the process's user memory, and the
  task's THREAD_SIZE kernel stack with an unmapped page below it (kernel/fork.c
  alloc_thread_stack_node, CONFIG_VMAP_STACK=y): the locals of each call. The stack is the
  task's, not the CPU's; here each CPU runs one task.
They share everything else: the module's code and its data (globals and statics), the
kernel's. `Race` decides which CPU executes the next instruction.

One step is one instruction of module code, or one call of a kernel function that kapi
models in Python (the call lands on the function's slot; the model and the slot's `ret` are
one step). Such a call is indivisible here; the functions allowed inside an exploration
(ALLOWED: delays, locks, formatting into the caller's buffer, copies to and from the
caller's user memory) touch nothing another CPU reads, except the locks, whose words they
change in one step as the real ones do with one locked instruction. A `lock`-prefixed
instruction (atomic_inc: `lock incl`) is indivisible on a real CPU too. An instruction that
reads and writes memory without `lock` (`addq $1, x(%rip)`, gcc's `x++`) is not: another
CPU's store can come between its load and its store. The explorer cannot split it, so a
step that does that to memory the other CPUs see stops with an ExploreLimit saying so.
Memory is sequentially consistent here: x86's store buffer (TSO), which lets a later load
pass an earlier store to another address, is not modelled.

Locks (kernel/locking/mutex.c, qspinlock.c): a CPU whose next step is mutex_lock() of a mutex
another CPU's task owns waits; one whose next step is spin_lock() of a lock another CPU holds
spins; neither can run until the owner unlocks. Waiting changes nothing the module sees, so a
waiting CPU is simply not chosen. On the real kernel the mutex's waiter first spins too, as
long as the owner is running on a CPU (mutex_optimistic_spin, CONFIG_MUTEX_SPIN_ON_OWNER=y in
Debian's config; owner_on_cpu), and sleeps on the wait list (schedule_preempt_disabled in
__mutex_lock_common) only once the owner is not running. The explorer does not model which.

Exploring (`Race.explore`) follows every schedule from the start: at each point, every CPU
that can run. Schedules that reach the same state (every CPU's registers, the module's
memory, the stacks, the files, the per-cpu words, the locks held) go on together, with a count
of how many schedules they stand for: the state-space search of a model checker (SPIN's),
which visits each distinct state once. So the 155,117,520 schedules of two CPUs through
racy's write() (15 steps each: C(30, 15)) are all counted, and each outcome comes with one
schedule that gives it, to replay step by step. `Race.sample` runs random schedules instead.

The outcome of a schedule is what `cat` prints afterwards: the module's own read() runs on
CPU 0 in that final state. After any of this the kernel is as it was: the module's memory,
its files and the clock are put back (`Race.close`, or the `with` block's end).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from math import comb

from kcourse.errors import KcourseError
from kcourse.kernel import stack
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import cpu as C
from kcourse.machine import tasks as T

PERCPU_STRIDE = 0x10_0000  # CPU n's per-cpu area: C.PERCPU + n * PERCPU_STRIDE
SMP_STACKS = C.STACKS + 0x2000_0000  # CPU n's stack: one STACK_STRIDE each, guard page first
STACK_STRIDE = 0x10_0000
MAX_CPUS = 4
SHF_WRITE, SHF_EXECINSTR = 0x1, 0x4
LOCK_PREFIX = 0xF0
USER_TOP = 0x0000_8000_0000_0000  # TASK_SIZE_MAX and below: user space (4-level paging)
STACK_SLACK = 512  # bytes below %rsp a state also holds (a push, a call's frame)
MAX_STEPS = 20_000  # steps of one CPU through one call: past it, an endless loop
MAX_STATES = 200_000  # distinct states an exploration may visit
CPU_NUMBER = T.PERCPU_OFFSETS["cpu_number"]
RIP, RDI, RSP = C.REGS.index("rip"), C.REGS.index("rdi"), C.REGS.index("rsp")
ARGS = tuple(C.REGS.index(r) for r in ("rdi", "rsi", "rdx"))
PREEMPT_ENABLED = 0x8000_0000  # arch/x86/include/asm/preempt.h: count 0, no resched

MUTEX_LOCKS = {"mutex_lock", "mutex_lock_interruptible", "mutex_lock_killable"}
SPIN_LOCKS = {"_raw_spin_lock", "_raw_spin_lock_irq", "_raw_spin_lock_irqsave"}
SPIN_UNLOCKS = {"_raw_spin_unlock", "_raw_spin_unlock_irq", "_raw_spin_unlock_irqrestore"}
ALLOWED = MUTEX_LOCKS | SPIN_LOCKS | SPIN_UNLOCKS | {
    "mutex_unlock", "mutex_trylock", "_raw_spin_trylock",
    "__const_udelay", "__udelay", "__ndelay",
    "scnprintf", "snprintf", "sprintf", "strlen", "memcpy", "memset",
    "simple_read_from_buffer", "simple_write_to_buffer", "_copy_to_user", "_copy_from_user",
    "__check_object_size", "kstrtoint", "kstrtol", "kstrtoul", "kstrtouint",
    "_printk",  # into the log, which every state holds (what dmesg would show differs)
}


class ExploreLimit(SimulatorLimit):
    """What the explorer cannot follow: one line, and where to see it for real."""


@dataclass(frozen=True)
class Access:
    address: int
    size: int
    write: bool
    value: int

    def text(self, race: Race) -> str:
        op = "store" if self.write else "load"
        value = f"{self.value:#x}" if self.value > 0xFFFF else str(self.value)
        return f"{op} {race.describe(self.address)} = {value}"


@dataclass
class Step:
    cpu: int
    rip: int
    where: str  # racy_write+0x6/0x30 [racy], or the kernel function a slot stands for
    text: str  # the instruction (capstone, AT&T syntax), or "call NAME" for a kernel function
    accesses: list[Access] = field(default_factory=list)
    args: tuple[int, ...] = ()  # a kernel function's first arguments (%rdi, %rsi, %rdx)


@dataclass
class Cpu:
    index: int
    pid: int
    comm: str
    task: int
    percpu: int
    stack_base: int
    stack_top: int
    file: int = 0
    user: object = None
    context: object = None
    regs: tuple = ()
    done: bool = False
    result: int = 0
    calls_done: int = 0
    op: str = "write"
    low: int = 0  # the lowest stack page this CPU's steps have used (states hold from there up)


@dataclass
class Exploration:
    """Every schedule from the start: how many there are, what each outcome is, and one
    schedule (CPU numbers in the order they step) that gives each outcome."""

    cpus: int
    steps: list[int]  # steps each CPU took on its own (the solo run)
    schedules: int
    outcomes: dict[str, int]  # what cat prints -> how many schedules print it
    examples: dict[str, str]  # outcome -> one schedule giving it
    states: int  # distinct states visited
    seconds: float
    deadlocks: int = 0

    def lost(self, expected: str) -> int:
        """Schedules whose outcome is not `expected` (e.g. "2\\n" after two writes)."""
        return sum(n for out, n in self.outcomes.items() if out.strip() != expected.strip())

    def summary(self, expected: str) -> str:
        lost = self.lost(expected)
        steps = " and ".join(str(n) for n in self.steps)
        return (f"{self.schedules:,} schedules of {self.cpus} CPUs ({steps} steps): "
                f"{lost:,} end with something else than {expected.strip()!r} "
                f"({100 * lost / self.schedules:.4f}%); {self.states:,} distinct states")


@dataclass
class Sampling:
    runs: int
    outcomes: dict[str, int]
    seconds: float
    seed: int


class Race:
    """CPUs 0..cpus-1, each a process that opened `path` and calls the module's `op` on it
    (`write` of `text`, as `echo` does, or `read`, as `cat` does) `calls` times in a row.
    `op` may also name one operation per CPU: ("write", "read") is an echo and a cat."""

    def __init__(self, kernel, path: str, cpus: int = 2, op="write", text: str = "1\n",
                 calls: int = 1):
        if not 2 <= cpus <= MAX_CPUS:
            raise KcourseError(f"kcourse: cpus={cpus}: the explorer runs 2 to {MAX_CPUS} CPUs")
        ops = [op] * cpus if isinstance(op, str) else list(op)
        if len(ops) != cpus or any(o not in ("read", "write") for o in ops):
            raise KcourseError(f"kcourse: op={op!r}: the explorer calls read or write, one "
                               f"operation for all {cpus} CPUs or one each")
        if calls < 1:
            raise KcourseError("kcourse: calls must be 1 or more")
        self.kernel, self.path, self.ops, self.text, self.calls = kernel, path, ops, text, calls
        self.device, self.module, self.behavior = self._find(path)
        self.machine = kernel.emulator
        sched = self.machine.objects.get("sched")
        if sched is not None and (sched.timers or sched.threads or sched.softirq_work):
            raise ExploreLimit("kcourse: the explorer runs only the module's file operations "
                               "on its CPUs, and this kernel has timers, kernel threads or "
                               "softirq work pending; explore a kernel without them, or run "
                               "it on the real kernel (kcourse.lab.race)")
        self.fns = {o: self.machine.space.read_u64(self.device.fops + (
            T.FOPS_WRITE if o == "write" else T.FOPS_READ)) for o in set(ops)}
        missing = sorted(o for o, fn in self.fns.items() if not fn)
        if missing:
            raise KcourseError(f"kcourse: {path} has no {' and no '.join(missing)} operation")
        # the module's data: its SHF_WRITE sections (.data, .bss, ...), init ones gone
        self._writable = [(s.address, s.size) for s in self.module.sections
                          if s.flags & SHF_WRITE and s.size and not s.init]
        self._saved_kernel = self._save_kernel()
        self._log_base = len(kernel.log.records)
        self._spin: dict[int, int] = {}  # spinlock address -> the CPU holding it
        self._trace: list[Access] | None = None
        self._hook = None
        self._disasm = None
        self._rmw = self._unlocked_read_modify_writes()
        self._observed: dict[bytes, str] = {}
        self._live: Cpu | None = None  # the CPU whose registers are in unicorn now
        self.closed = False
        self.cpus: list[Cpu] = []
        for i in range(cpus):
            self.cpus.append(self._new_cpu(i))

    # ------------------------------------------------------------------ set-up
    def _find(self, path: str):
        from kcourse.kapi import chardev

        name = path.rsplit("/", 1)[-1]
        device = chardev.devices(self.kernel.emulator).get(name) if self.kernel.emulator \
            else None
        if device is None or not path.startswith("/dev/"):
            raise KcourseError(f"kcourse: {path}: no misc device of a loaded module that runs "
                               "on the emulated CPU")
        machine = self.kernel.emulator
        module = machine.module_at(device.fops)
        if module is None:
            raise KcourseError(f"kcourse: {path}: its file operations are not a module's")
        behavior = self.kernel._behavior(module)
        return device, module, behavior

    def _unlocked_read_modify_writes(self) -> dict[int, str]:
        """The module's instructions that read and write one memory operand without a `lock`
        prefix (`addq $1, x(%rip)`, gcc's `x++`): address -> text. The explorer runs each as
        one step, but a real CPU does not: without `lock` another CPU's store can come
        between its load and its store (Intel SDM vol. 3A, "Locked Atomic Operations"; the
        kernel's atomic_inc is `lock incl`, arch/x86/include/asm/atomic.h). `xchg` with
        memory is locked without the prefix."""
        import capstone
        from capstone import x86 as X

        disasm = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        disasm.syntax = capstone.CS_OPT_SYNTAX_ATT
        disasm.detail = True
        found: dict[int, str] = {}
        both = capstone.CS_AC_READ | capstone.CS_AC_WRITE
        for sec in self.module.sections:
            if not sec.flags & SHF_EXECINSTR or sec.init or not sec.size:
                continue
            code = self.machine.space.read(sec.address, sec.size)
            for insn in disasm.disasm(code, sec.address):
                if LOCK_PREFIX in insn.prefix or insn.mnemonic.startswith("xchg"):
                    continue
                if any(op.type == X.X86_OP_MEM and op.access & both == both
                       for op in insn.operands):
                    found[insn.address] = f"{insn.mnemonic} {insn.op_str}"
        return found

    def _new_cpu(self, index: int) -> Cpu:
        machine, space = self.machine, self.machine.space
        comm = "echo" if self.ops[index] == "write" else "cat"
        pid = self.kernel.pid_of(comm) + 10 * index
        task = machine.task_struct(pid, comm)
        percpu = C.PERCPU + index * PERCPU_STRIDE
        if index:
            space.map(percpu, C.PERCPU_SIZE)
            # the canary is the running task's (__switch_to_asm copies next->stack_canary
            # there, arch/x86/entry/entry_64.S; get_random_canary(): random, low byte 0): a
            # task of its own, a canary of its own
            canary = random.Random(self.kernel.seed * 31 + index).getrandbits(64)
            space.write_u64(percpu + C.STACK_CANARY, canary & 0xFFFF_FFFF_FFFF_FF00)
            space.write_u64(percpu + T.THIS_CPU_OFF, percpu)  # per_cpu_offset(n)
            space.write(percpu + CPU_NUMBER, index.to_bytes(4, "little"))
        space.write_u64(percpu + T.CURRENT_TASK, task)
        space.write(percpu + T.PREEMPT_COUNT, PREEMPT_ENABLED.to_bytes(4, "little"))
        size = self.kernel.config_thread_size
        base = SMP_STACKS + index * STACK_STRIDE + C.PAGE
        space.map(base, size)
        cpu = Cpu(index, pid, comm, task, percpu, base, base + size, op=self.ops[index])
        self.behavior.open(None, self.path)  # the process's own struct file
        cpu.file = self.behavior._file(self.path)
        self._start(cpu, 0)
        return cpu

    def _start(self, cpu: Cpu, call: int) -> None:
        """The CPU at the entry of the module's op, as a system call enters it."""
        from kcourse.kapi import uaccess
        from kcourse.machine.files import BASH_HEAP, CAT_BUFFER, CAT_BUFSIZE

        machine, uc = self.machine, self.machine.cpu.uc
        if self._live is not cpu:
            self._park()
        self._live = None
        uc.context_restore(machine._entry_state)
        machine.cpu.set_gs_base(cpu.percpu)
        data = self.text.encode()
        if cpu.op == "write":
            args = (cpu.file, BASH_HEAP, len(data), cpu.file + T.FILE_POS)
            if cpu.user is None:
                cpu.user = uaccess.user_memory_for(machine, BASH_HEAP, max(len(data), 1), data)
        else:
            args = (cpu.file, CAT_BUFFER, CAT_BUFSIZE, cpu.file + T.FILE_POS)
            if cpu.user is None:
                cpu.user = uaccess.user_memory_for(machine, CAT_BUFFER, CAT_BUFSIZE)
        rsp = (cpu.stack_top - stack.PT_REGS - stack.DEPTH_AT_INIT) & ~0xF
        machine.cpu.set_reg("rsp", rsp)
        for reg, value in zip(("rdi", "rsi", "rdx", "rcx"), args, strict=True):
            machine.cpu.set_reg(reg, value)
        machine.cpu.push(C.RETURN_TRAP)
        machine.cpu.set_reg("rip", self.fns[cpu.op])
        cpu.calls_done = call
        cpu.context = uc.context_save()
        cpu.regs = self._regs()
        cpu.done = False
        cpu.low = min(cpu.low or cpu.stack_top, (rsp - STACK_SLACK) & ~(C.PAGE - 1))

    def _save_kernel(self):
        machine = self.machine
        sched = machine.objects.get("sched")
        log = self.kernel.log
        self._saved_log = (log._open, log._seq, log._bytes)
        return (self.kernel.current, machine.objects.get("user"), self.kernel.clock.usec,
                getattr(sched, "_ns", 0), self._read_ranges(self._writable_ranges()),
                machine.space.read_u64(C.PERCPU + T.CURRENT_TASK),
                machine.space.read(C.PERCPU + T.PREEMPT_COUNT, 4))

    def _writable_ranges(self):
        return self._writable

    def close(self) -> None:
        """Put the kernel back as it was before the Race: module memory, files, clock."""
        if self.closed:
            return
        self.closed = True
        machine, space = self.machine, self.machine.space
        current, user, usec, ns, memory, task, preempt = self._saved_kernel
        self._write_ranges(memory)
        if self._hook is not None:
            machine.cpu.uc.hook_del(self._hook)
        for cpu in self.cpus:
            self.behavior.release(None, self.path)
            space.unmap(cpu.stack_base, self.kernel.config_thread_size)
            if cpu.index:
                space.unmap(cpu.percpu, C.PERCPU_SIZE)
        space.write_u64(C.PERCPU + T.CURRENT_TASK, task)
        space.write(C.PERCPU + T.PREEMPT_COUNT, preempt)
        machine.percpu = C.PERCPU
        self.kernel.current = current
        self.kernel.memory.set_current(*current)
        if user is not None:
            machine.objects["user"] = user
        self.kernel.clock.usec = usec
        log = self.kernel.log
        del log.records[self._log_base:]
        log._open, log._seq, log._bytes = self._saved_log
        sched = machine.objects.get("sched")
        if sched is not None:
            sched._ns = ns
        machine._depth, machine._running = 0, []

    def __enter__(self) -> Race:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ one step
    def _regs(self) -> tuple:
        return self.machine.cpu.register_values()

    def _switch_to(self, cpu: Cpu) -> None:
        machine = self.machine
        if self._live is cpu:
            return
        self._park()
        machine.cpu.uc.context_restore(cpu.context)
        self._live = cpu
        machine.percpu = cpu.percpu
        self.kernel.current = (cpu.pid, cpu.comm)
        self.kernel.memory.set_current(cpu.pid, cpu.comm)
        machine.objects["user"] = cpu.user
        machine._depth, machine._running = 1, [self.module]

    def _park(self) -> None:
        """Save the registers of the CPU whose context is live in unicorn (each step leaves
        it there, so that the same CPU's next step need not restore it)."""
        if self._live is not None:
            self._live.context = self.machine.cpu.uc.context_save()
            self._live = None

    def slot_name(self, cpu: Cpu) -> str | None:
        return self.machine._slot_names.get(cpu.regs[RIP])

    def waiting(self, cpu: Cpu) -> str:
        """Why `cpu` cannot take its next step ('' if it can): its mutex_lock() sleeps on a
        mutex another task owns, or its spin_lock() spins on a lock another CPU holds."""
        if cpu.done:
            return "done"
        name = self.slot_name(cpu)
        lock = cpu.regs[RDI]
        space = self.machine.space
        if name in MUTEX_LOCKS:
            owner = space.read_u64(lock) & ~0x7  # include/linux/mutex.h: the owner task
            if owner and owner != cpu.task:
                preempt = int.from_bytes(space.read(cpu.percpu + T.PREEMPT_COUNT, 4),
                                         "little") & ~PREEMPT_ENABLED
                if preempt:  # kernel/sched/core.c schedule_debug -> __schedule_bug
                    raise ExploreLimit(
                        f"kcourse: in some schedule CPU{cpu.index} sleeps in {name}() with "
                        f"preemption off (a spinlock held: preempt count {preempt}), where "
                        "the real kernel prints \"BUG: scheduling while atomic\"; the "
                        "explorer stops there (on one CPU, kcourse prints that report when "
                        "such code really sleeps)")
                return f"sleeps in {name}()"
        if name in SPIN_LOCKS and space.read(lock, 1)[0] and self._spin.get(lock) != cpu.index:
            return f"spins in {name}()"
        return ""

    def runnable(self) -> list[int]:
        return [c.index for c in self.cpus if not self.waiting(c)]

    def step(self, index: int, record: bool = False) -> Step | None:
        cpu = self.cpus[index]
        machine, uc = self.machine, self.machine.cpu.uc
        self._switch_to(cpu)
        rip = cpu.regs[RIP]
        name = machine._slot_names.get(rip)
        if name is not None and name not in ALLOWED:
            site = machine.symbolize(machine.space.read_u64(machine.cpu.reg("rsp")) - 5)
            raise ExploreLimit(f"kcourse: {site} calls {name}(), which the explorer does not "
                               "follow (it follows module code, delays, locks, formatting and "
                               "user copies); run two writers on the real kernel instead "
                               "(kcourse.lab.race)")
        lock = cpu.regs[RDI]
        args = tuple(cpu.regs[i] for i in ARGS) if name else ()
        accesses: list[Access] = []
        rmw = name is None and rip in self._rmw
        self._trace = accesses if record or rmw else None
        if (record or rmw) and self._hook is None:
            self._hook = uc.hook_add(machine.cpu.unicorn.UC_HOOK_MEM_READ |
                                     machine.cpu.unicorn.UC_HOOK_MEM_WRITE, self._on_access)
        machine._pending = machine._fault = None
        machine._kapi_calls = 0  # a step makes one call at most (MAX_STEPS bounds a run)
        try:
            uc.emu_start(rip, C.RETURN_TRAP, count=1)
        except machine.cpu.unicorn.UcError as err:
            machine._fault = machine._trap_from_error(err)
        finally:
            self._trace = None
        if machine._pending is not None:
            pending, machine._pending = machine._pending, None
            raise pending if isinstance(pending, SimulatorLimit) else ExploreLimit(
                f"kcourse: {machine.symbolize(rip)} on CPU{index}: {pending}")
        if machine._fault is not None:
            raise ExploreLimit(f"kcourse: CPU{index} faults at {machine.symbolize(rip)} "
                               "during the exploration; load the module and run the same "
                               "command to see the oops the kernel prints")
        if rmw:
            self._refuse_unlocked_update(cpu, rip, accesses)
        if name in SPIN_LOCKS:
            self._spin[lock] = index
        elif name in SPIN_UNLOCKS:
            self._spin.pop(lock, None)
        cpu.regs = self._regs()
        low = cpu.regs[RSP] - STACK_SLACK
        if low < cpu.low:
            if low < cpu.stack_base:
                raise ExploreLimit(f"kcourse: CPU{index} runs off its stack at "
                                   f"{machine.symbolize(rip)}; run it normally to see the oops")
            cpu.low = low & ~(C.PAGE - 1)
        if cpu.regs[RIP] == C.RETURN_TRAP:
            cpu.result = cpu.regs[0]
            if cpu.calls_done + 1 < self.calls:  # the writer loop's next write()
                self._start(cpu, cpu.calls_done + 1)
            else:
                cpu.done = True
        if not record:
            return None
        text = f"call {name}" if name else self._disassemble(rip)
        where = machine.symbolize(rip) or self._target_name(rip) or f"{rip:#x}"
        return Step(index, rip, where, text, accesses, args)

    def _refuse_unlocked_update(self, cpu: Cpu, rip: int, accesses: list[Access]) -> None:
        """An unlocked read-modify-write of memory the other CPUs see: the explorer would
        run it as one indivisible step, which a real CPU does not, so it says so and stops."""
        for access in accesses:
            # a CPU's own stack and per-cpu area (this_cpu_inc: `incl %gs:x`) are its alone
            if access.write and not any(
                    c.stack_base <= access.address < c.stack_top or
                    c.percpu <= access.address < c.percpu + C.PERCPU_SIZE for c in self.cpus):
                where = self.machine.symbolize(rip) or f"{rip:#x}"
                raise ExploreLimit(
                    f"kcourse: CPU{cpu.index} at {where}: `{self._rmw[rip]}` reads and writes "
                    f"{self.describe(access.address).split(' ')[0]} in one instruction without "
                    "`lock`. The explorer would run it as one step, but on a real CPU another "
                    "CPU's store can come between its load and its store, and an update can be "
                    "lost; protect it with a lock, or use atomic_inc(), or run it on the real "
                    "kernel (kcourse.lab.race)")

    def _on_access(self, uc, access, address, size, value, _user) -> None:
        """unicorn hands the hook the physical address (paging is on): the address space's
        record of the mappings gives the virtual one back."""
        if self._trace is None:
            return
        write = access == self.machine.cpu.unicorn.UC_MEM_WRITE
        if write:
            value &= (1 << 8 * size) - 1
        else:
            value = int.from_bytes(uc.mem_read(address, size), "little")
        frames = {frame: page for page, frame in self.machine.space.pages.items()}
        page = frames.get(address & ~(C.PAGE - 1))
        virtual = page + (address & (C.PAGE - 1)) if page is not None else address
        self._trace.append(Access(virtual, size, write, value))

    def _disassemble(self, rip: int) -> str:
        if self._disasm is None:
            import capstone

            self._disasm = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
            self._disasm.syntax = capstone.CS_OPT_SYNTAX_ATT
        code = self.machine.space.read(rip, 15)
        for insn in self._disasm.disasm(code, rip, 1):
            # immediates in hex, and a branch's target named as objdump names it
            ops = re.sub(r"\$(\d{5,})", lambda m: f"${int(m.group(1)):#x}", insn.op_str)
            target = re.fullmatch(r"0x([0-9a-f]+)", ops)
            if target and insn.mnemonic.startswith(("call", "jmp")):
                name = self._target_name(int(target.group(1), 16))
                ops += f" <{name}>" if name else ""
            return f"{insn.mnemonic} {ops}".strip()
        return "(bad)"

    def _target_name(self, address: int) -> str:
        machine = self.machine
        name = machine._slot_names.get(address)
        if name is None:
            name = next((n for n, a in machine._thunks.items() if a == address), None)
        if name is None:
            name = (machine.symbolize(address) or "").split(" [")[0].split("/")[0]
        return name

    def describe(self, address: int) -> str:
        """A data address as the lesson names it: a module symbol, a CPU's stack, a file."""
        for cpu in self.cpus:
            if cpu.stack_base <= address < cpu.stack_top:
                return f"CPU{cpu.index}'s stack {address:#x}"
            if cpu.percpu <= address < cpu.percpu + C.PERCPU_SIZE:
                return f"CPU{cpu.index}'s per-cpu area+{address - cpu.percpu:#x} {address:#x}"
        if address < USER_TOP:
            return f"user memory {address:#x}"
        code = next((c for c in self.machine.codes if c.module is self.module), None)
        if code is not None:
            best = None
            for name, value in code.symbols.items():
                if value <= address and (best is None or value > best[1]):
                    best = (name, value)
            if best is not None and address - best[1] < 4096:
                off = address - best[1]
                return f"{best[0]}{f'+{off:#x}' if off else ''} {address:#x}"
        return f"{address:#x}"

    # ------------------------------------------------------------------ states
    def _read_ranges(self, ranges) -> list[bytes]:
        return [self.machine.space.read(a, n) for a, n in ranges]

    def _write_ranges(self, blobs: list[bytes]) -> None:
        for (address, _n), blob in zip(self._writable_ranges(), blobs, strict=True):
            self.machine.space.write(address, blob)

    def snapshot(self):
        self._park()
        space = self.machine.space
        cpus = tuple((c.context, c.regs, c.done, c.result, c.calls_done, c.low,
                      space.read(c.low, c.stack_top - c.low), space.read(c.file, T.FILE_SIZE),
                      space.read(c.percpu + T.PREEMPT_COUNT, 4),
                      tuple(sorted((k, bytes(v)) for k, v in c.user.pages.items())))
                     for c in self.cpus)
        sched = self.machine.objects.get("sched")
        log = self.kernel.log
        return (cpus, tuple(self._read_ranges(self._writable_ranges())),
                tuple(sorted(self._spin.items())), getattr(sched, "irqs_disabled", False),
                tuple(self.kernel.memory._atomic),
                (tuple(log.records[self._log_base:]), log._open, log._seq, log._bytes))

    @staticmethod
    def key(snap) -> bytes:
        cpus, memory, spin, irqs, atomic, (records, open_record, _seq, _bytes) = snap
        h = hashlib.blake2b(digest_size=16)
        for _ctx, regs, done, result, calls, _low, stack_bytes, file, preempt, user in cpus:
            h.update(repr((regs, done, result, calls)).encode())
            h.update(stack_bytes)
            h.update(file)
            h.update(preempt)
            h.update(repr(user).encode())
        for blob in memory:
            h.update(blob)
        h.update(repr((spin, irqs, atomic)).encode())
        h.update(repr([(r.level, r.text) for r in records]).encode())
        if open_record is not None:
            h.update(repr((open_record.level, open_record.text)).encode())
        return h.digest()

    def restore(self, snap) -> None:
        self._live = None  # its registers come from the snapshot
        cpus, memory, spin, irqs, atomic, (records, open_record, seq, size) = snap
        space = self.machine.space
        for cpu, (ctx, regs, done, result, calls, low, stack_bytes, file, preempt, user) in zip(
                self.cpus, cpus, strict=True):
            cpu.context, cpu.regs, cpu.done, cpu.result, cpu.calls_done = \
                ctx, regs, done, result, calls
            space.write(low, stack_bytes)
            space.write(cpu.file, file)
            space.write(cpu.percpu + T.PREEMPT_COUNT, preempt)
            cpu.user.pages = {k: bytearray(v) for k, v in user}
        self._write_ranges(list(memory))
        self._spin = dict(spin)
        sched = self.machine.objects.get("sched")
        if sched is not None:
            sched.irqs_disabled = irqs
        self.kernel.memory._atomic = list(atomic)
        log = self.kernel.log
        del log.records[self._log_base:]
        log.records.extend(records)
        log._open, log._seq, log._bytes = open_record, seq, size

    def observe(self, snap) -> str:
        """What `cat PATH` prints in state `snap`: the module's own read() on CPU 0, from a
        fresh open; the state is left as it was."""
        key = self.key(snap)
        if key in self._observed:
            return self._observed[key]
        self.restore(snap)
        machine = self.machine
        machine.percpu, machine._depth, machine._running = C.PERCPU, 0, []
        saved_task = machine.space.read_u64(C.PERCPU + T.CURRENT_TASK)
        self.kernel.current = (self.kernel.pid_of("cat") + 99, "cat")
        self.kernel.memory.set_current(*self.kernel.current)
        self.behavior.open(None, self.path)
        try:
            text = self.behavior.read(None, self.path)
        finally:
            self.behavior.release(None, self.path)
            machine.space.write_u64(C.PERCPU + T.CURRENT_TASK, saved_task)
            self.restore(snap)
        self._observed[key] = text
        return text

    # ------------------------------------------------------------------ schedules
    def solo(self, index: int = 0) -> list[Step]:
        """CPU `index` alone through its calls, every step with the memory it touched; the
        state is put back after."""
        start = self.snapshot()
        steps: list[Step] = []
        try:
            while not self.cpus[index].done:
                if len(steps) > MAX_STEPS * self.calls:
                    raise ExploreLimit(f"kcourse: {self.path}: {self.ops[index]}() did not "
                                       f"return after {MAX_STEPS:,} steps (an endless loop?)")
                why = self.waiting(self.cpus[index])
                if why:
                    raise ExploreLimit(f"kcourse: CPU{index} alone {why}: nothing would "
                                       "release it")
                steps.append(self.step(index, record=True))
        finally:
            self.restore(start)
        return steps

    def replay(self, schedule: str) -> list[Step]:
        """Run `schedule` (CPU numbers, e.g. "0011"; a CPU that has finished is skipped),
        recording every step; then each CPU left runs to its end in turn. The steps are
        returned, `self.final` is what cat prints at the end; the state is put back after."""
        start = self.snapshot()
        steps: list[Step] = []
        try:
            for ch in schedule:
                index = int(ch)
                if index >= len(self.cpus):
                    raise KcourseError(f"kcourse: schedule {schedule!r}: there is no CPU{ch}")
                why = self.waiting(self.cpus[index])
                if why == "done":
                    continue
                if why:
                    raise KcourseError(f"kcourse: schedule {schedule!r}: at step "
                                       f"{len(steps) + 1} CPU{index} {why}")
                steps.append(self.step(index, record=True))
            for cpu in self.cpus:
                while not cpu.done and not self.waiting(cpu):
                    steps.append(self.step(cpu.index, record=True))
            self.final = self.observe(self.snapshot())
        finally:
            self.restore(start)
        return steps

    def explore(self) -> Exploration:
        """Every schedule, states merged (see the module docstring)."""
        started = time.perf_counter()
        solo = [len(self.solo(c.index)) for c in self.cpus]
        start = self.snapshot()
        layer: dict[bytes, list] = {self.key(start): [start, 1, ""]}
        finals: dict[bytes, list] = {}
        deadlocks, states = 0, 1
        try:
            while layer:
                following: dict[bytes, list] = {}
                for snap, count, example in layer.values():
                    self.restore(snap)
                    choices = self.runnable()
                    if all(c.done for c in self.cpus):
                        key = self.key(snap)
                        entry = finals.setdefault(key, [snap, 0, example])
                        entry[1] += count
                        continue
                    if not choices:
                        deadlocks += count
                        continue
                    for index in choices:
                        self.restore(snap)
                        self.step(index)
                        new = self.snapshot()
                        key = self.key(new)
                        entry = following.get(key)
                        if entry is None:
                            following[key] = [new, count, example + str(index)]
                            states += 1
                            if states > MAX_STATES:
                                raise ExploreLimit(f"kcourse: more than {MAX_STATES:,} "
                                                   "distinct states: sample instead "
                                                   "(Race.sample)")
                        else:
                            entry[1] += count
                layer = following
            outcomes: Counter[str] = Counter()
            examples: dict[str, str] = {}
            for snap, count, example in finals.values():
                text = self.observe(snap)
                outcomes[text] += count
                examples.setdefault(text, example)
        finally:
            self.restore(start)
        return Exploration(len(self.cpus), solo, sum(outcomes.values()) + deadlocks,
                           dict(sorted(outcomes.items())), examples, states,
                           time.perf_counter() - started, deadlocks)

    def sample(self, runs: int, seed: int = 0) -> Sampling:
        """`runs` random schedules: at each step one of the CPUs that can run, uniformly."""
        started = time.perf_counter()
        rng = random.Random(seed)
        start = self.snapshot()
        outcomes: Counter[str] = Counter()
        try:
            for _ in range(runs):
                self.restore(start)
                steps = 0
                while True:
                    choices = self.runnable()
                    if not choices:
                        break
                    self.step(rng.choice(choices))
                    steps += 1
                    if steps > MAX_STEPS * self.calls * len(self.cpus):
                        raise ExploreLimit("kcourse: a schedule ran past "
                                           f"{MAX_STEPS * self.calls * len(self.cpus):,} steps")
                done = all(c.done for c in self.cpus)
                outcomes["(deadlock)" if not done else self.observe(self.snapshot())] += 1
        finally:
            self.restore(start)
        return Sampling(runs, dict(sorted(outcomes.items())), time.perf_counter() - started,
                        seed)


def interleavings(lengths: list[int]) -> int:
    """How many ways CPUs taking lengths[i] steps can interleave, each keeping its own order:
    the multinomial (sum n)! / prod(n!)."""
    total, left = 1, 0
    for n in lengths:
        left += n
        total *= comb(left, n)
    return total


def shared(race: Race, step: Step) -> list[Access]:
    """The accesses of `step` to memory every CPU sees: not a CPU's own stack."""
    return [a for a in step.accesses
            if not any(c.stack_base <= a.address < c.stack_top for c in race.cpus)]


def format_steps(race: Race, steps: list[Step], shared_only: bool = False) -> str:
    """One line a step: the CPU, where (symbol+offset, as %pS), the instruction (capstone's
    AT&T syntax), and the memory it read or wrote (a kernel function: its first argument)."""
    lines = []
    for step in steps:
        touched = shared(race, step) if shared_only else step.accesses
        if shared_only and not touched and not step.text.startswith("call "):
            continue
        what = ", ".join(a.text(race) for a in touched)
        if step.text.startswith("call ") and step.args:
            what = f"(arg {race.describe(step.args[0])})"
        where = step.where.split(" [")[0]
        lines.append(f"CPU{step.cpu}  {where:<26} {step.text:<30} {what}".rstrip())
    return "\n".join(lines)
