"""Machine: one emulated kernel address space and its CPU, running module code for a Kernel.

The loader asks it to place a module (kcourse.machine.placement) and then to call the
module's functions: init and exit, file operations, parameter ops. A call pushes the address
of RETURN_TRAP and runs until the CPU gets there. On the way:
- a call into a kernel function lands on its KAPI_TEXT slot and runs its Python model;
- a fault (page fault, #GP, #UD of a BUG(), divide error) stops the CPU and becomes a
  ModuleFault, which kcourse.machine.faults turns into the oops the kernel prints;
- a call to a function kcourse does not model stops with Unmodelled (one line: the function,
  the call site, and `kcourse sim --real`);
- a call that has not returned after `budget` instructions stops with Runaway, where the
  real kernel would hang (a soft lockup).
"""

from __future__ import annotations

import struct

from kcourse.errors import KcourseError
from kcourse.kernel import stack, structs
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import cpu as C
from kcourse.machine import privileged
from kcourse.machine import tasks as T
from kcourse.machine.address_space import BadAccess

BUDGET = 20_000_000  # instructions per call from the simulator into module code
# ... and calls into the kernel's functions: each runs in Python, so a loop around printk
# would take minutes to spend the instruction budget
KAPI_BUDGET = 50_000
X86_TRAP_DE, X86_TRAP_UD, X86_TRAP_GP, X86_TRAP_PF = 0, 6, 13, 14
X86_EFLAGS_FIXED, X86_EFLAGS_IF = 1 << 1, 1 << 9  # arch/x86/include/uapi/asm/processor-flags.h


class Unmodelled(SimulatorLimit):
    """Module code used a kernel symbol kcourse does not model."""

    def __init__(self, symbol: str, site: str, kind: str = "function"):
        what = "calls" if kind == "function" else "reads"
        super().__init__(f"kcourse: {site} {what} {symbol}(), which the simulator does not "
                         "model; run it on the real kernel with `kcourse sim --real`"
                         if kind == "function" else
                         f"kcourse: {site} {what} the kernel variable {symbol}, which the "
                         "simulator does not model; run it on the real kernel with "
                         "`kcourse sim --real`")
        self.symbol, self.site, self.kind = symbol, site, kind


class Runaway(SimulatorLimit):
    """A call into module code did not return within the instruction budget."""


class ModuleFault(Exception):
    """The CPU trapped in module code: vector, faulting RIP, CR2, registers at the fault.
    `write`: whether a page fault was a write, when no instruction at RIP says (a fault
    inside a kernel function that kapi models in Python)."""

    def __init__(self, vector: int, rip: int, cr2: int, regs: dict[str, int],
                 write: bool | None = None):
        super().__init__(f"trap {vector} at {rip:#x}")
        self.vector, self.rip, self.cr2, self.regs = vector, rip, cr2, regs
        self.bug = None  # the __bug_table entry of a BUG() (kcourse.machine.bugs)
        self.write = write


class Machine:
    def __init__(self, kernel):
        from kcourse.kapi import registry

        registry.load_all()
        self.kernel = kernel
        self.cpu = C.CPU()
        self.space = self.cpu.space
        self.functions = registry.FUNCTIONS
        self.data_decls = registry.DATA
        self._slots: dict[str, int] = {}  # kernel function -> its KAPI_TEXT slot
        self._slot_names: dict[int, str] = {}
        self._data: dict[str, int] = {}  # kernel data symbol -> address
        self._kdata_top = C.KDATA
        self._unmodelled: dict[int, str] = {}  # UNMODELLED page -> symbol
        self.objects: dict[str, object] = {}  # state of kapi subsystems, by subsystem name
        self.codes: list = []  # ModuleCode of every module placed here
        self._pending: BaseException | None = None
        self._fault: ModuleFault | None = None
        self._kheap_top = C.TASKS
        self._tasks: dict[tuple[int, str], int] = {}
        self._depth = 0  # calls into module code in progress (kapi may call back)
        self._kapi_calls = 0  # calls into kapi in the run in progress (KAPI_BUDGET)
        self._running: list = []  # the module each call in progress entered
        # modules whose code a simulator stop (SimulatorLimit) cut off mid-call since the
        # kernel last looked (Kernel.take_notes): what it had done stays done
        self.abandoned: list[str] = []
        # The running CPU's per-cpu area (its GS base): CPU 0's, but while kcourse.machine.smp
        # runs another CPU, that one's; kapi reads current_task and the preempt count here
        self.percpu = C.PERCPU
        self._setup_regions()

    # ------------------------------------------------------------------ regions
    def _setup_regions(self) -> None:
        space, uc = self.space, self.cpu.uc
        space.map(C.KAPI_TEXT, 0x10_0000, C.RET * 0x10_0000)
        space.map(C.RETURN_TRAP & ~(C.PAGE - 1), C.PAGE, C.INT3 * C.PAGE)
        thunks = bytearray(C.RET * C.PAGE)
        self._thunks = {"__fentry__": C.THUNKS, "__x86_return_thunk": C.THUNKS + 16}
        for i, reg in enumerate(C.INDIRECT_THUNK_REGS):
            at = 64 + 16 * i
            code = C.indirect_thunk(reg)
            thunks[at:at + len(code)] = code
            self._thunks[f"__x86_indirect_thunk_{reg}"] = C.THUNKS + at
        space.map(C.THUNKS, C.PAGE, bytes(thunks))
        for start, size in ((C.KAPI_TEXT, 0x10_0000), (C.RETURN_TRAP & ~(C.PAGE - 1), C.PAGE),
                            (C.THUNKS, C.PAGE)):  # the kernel's text is read-only (mark_rodata_ro)
            space.protect(start, size, writable=False)
        space.map(C.PERCPU, C.PERCPU_SIZE)
        self.cpu.set_gs_base(C.PERCPU)
        canary = 0x1F2E3D4C5B6A7988 ^ self.kernel.seed  # boot_init_stack_canary: random
        space.write_u64(C.PERCPU + C.STACK_CANARY, canary & 0xFFFF_FFFF_FFFF_FF00)
        space.write_u64(C.PERCPU + T.THIS_CPU_OFF, C.PERCPU)  # per_cpu_offset(0)
        # PREEMPT_ENABLED: count 0, the inverted NEED_RESCHED bit set (asm/preempt.h)
        space.write(C.PERCPU + T.PREEMPT_COUNT, (0x8000_0000).to_bytes(4, "little"))
        unicorn = self.cpu.unicorn
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_slot, begin=C.KAPI_TEXT,
                    end=C.KAPI_TEXT + 0x10_0000 - 1)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_trap)
        self._stack_top = self._new_stack()
        self._scanner = privileged.Scanner(self, self._stack_top)  # hlt, wrmsr, out, ...
        # The CPU as each system call finds it: interrupts on, no exception in flight.
        # Restored at every call from user space, so one call's fault or flags cannot leak
        # into the next (unicorn never finishes delivering a trap it hands to a hook, and
        # takes the next one for a double fault).
        self.cpu.set_reg("eflags", X86_EFLAGS_FIXED | X86_EFLAGS_IF)
        self._entry_state = uc.context_save()

    def _new_stack(self) -> int:
        """A THREAD_SIZE stack with an unmapped guard page below it; returns its top."""
        size = self.kernel.config_thread_size
        base = C.STACKS + C.PAGE  # the guard page C.STACKS stays unmapped
        self.space.map(base, size)
        self.stack_base = base
        return base + size

    # ------------------------------------------------------------------ binding symbols
    def kernel_symbol(self, name: str) -> int:
        """The address an undefined symbol of a module is bound to (simplify_symbols).

        Functions kapi models and those it does not both get a slot: calling an unmodelled
        one stops there, with the call site. Data gets its modelled bytes, or an unmapped
        page that names it when touched (also a variable kapi declares "stops when
        touched": one only code that never runs here reads)."""
        if name in self._thunks:
            return self._thunks[name]
        if name in T.PERCPU_OFFSETS:  # a per-cpu variable's "address" is its offset (GS)
            return T.PERCPU_OFFSETS[name]
        if name in self._data:
            return self._data[name]
        decl = self.data_decls.get(name)
        if decl is not None and not getattr(decl.init, "stops", None):
            return self._place_data(decl)
        if decl is None and (name in self.functions or not _looks_like_data(name)):
            return self._slot(name)
        # not modelled, or declared "stops when touched" (only code that never runs here
        # reads it): an unmapped page that names it
        page = C.UNMODELLED + len(self._unmodelled) * C.PAGE * 2
        self._unmodelled[page] = name
        self._data[name] = page
        return page

    def _slot(self, name: str) -> int:
        if name not in self._slots:
            address = C.KAPI_TEXT + len(self._slots) * C.SLOT
            self._slots[name] = address
            self._slot_names[address] = name
        return self._slots[name]

    def _place_data(self, decl) -> int:
        address = (self._kdata_top + 63) // 64 * 64
        self._kdata_top = address + max(decl.size, 8)
        self.space.map(address, max(decl.size, 8))
        self._data[decl.name] = address
        contents = decl.init(self, address)
        if contents:
            self.space.write(address, contents)
        return address

    # ------------------------------------------------------------------ kernel objects
    def kernel_alloc(self, size: int) -> int:
        """Memory the kernel itself owns (a charp parameter's copy, a task's struct): mapped,
        zeroed, never in the module ledger."""
        address = (self._kheap_top + 15) // 16 * 16
        self._kheap_top = address + max(size, 1)
        self.space.map(address, max(size, 1))
        return address

    def kernel_string(self, text: bytes) -> int:
        address = self.kernel_alloc(len(text))
        self.space.write(address, text)
        return address

    def current_task(self) -> int:
        """The task_struct of the Kernel's current process (kernel.current)."""
        return self.task_struct(*self.kernel.current)

    def task_struct(self, pid: int, comm: str) -> int:
        """The task_struct of process (pid, comm), made on first use with its pid, tgid and
        comm where the pinned kernel's layout puts them."""
        task = self._tasks.get((pid, comm))
        if task is None:
            task = self.kernel_alloc(T.TASK_STRUCT_SIZE)
            self.space.write(task + T.TASK_PID, pid.to_bytes(4, "little"))
            self.space.write(task + T.TASK_TGID, pid.to_bytes(4, "little"))
            self.space.write(task + T.TASK_COMM, comm.encode()[:15].ljust(16, b"\0"))
            self._tasks[(pid, comm)] = task
        return task

    def enter(self) -> None:
        """Before a call from a system call: %gs:current_task is the calling task."""
        self.space.write_u64(self.percpu + T.CURRENT_TASK, self.current_task())

    def address_of(self, name: str) -> int:
        """A kernel symbol's address (binding it first if no module has used it yet)."""
        return self.kernel_symbol(name)

    # ------------------------------------------------------------------ calls
    def call(self, address: int, *args: int, budget: int = BUDGET) -> int:
        """Call module code at `address` with integer arguments; returns %rax.

        Re-entrant: a kapi function may call back into module code (a seq_file show, a
        parameter's set op); the interrupted call's registers are saved and restored."""
        cpu = self.cpu
        nested = self._depth > 0
        saved = cpu.uc.context_save() if nested else None
        # a background job's process, which may sleep here (kcourse.machine.processes)
        task = None if nested else getattr(self.kernel, "user_task", None)
        if not nested:
            cpu.uc.context_restore(self._entry_state)
        self._depth += 1
        self._running.append(self.module_at(address))
        try:
            # A system call enters module code with pt_regs at the top of the stack and the
            # syscall path's frames below it (kcourse.kernel.stack: PT_REGS, DEPTH_AT_INIT)
            top = self._stack_top if task is None else task.stack_top(self)
            rsp = (cpu.reg("rsp") - 256) & ~0xF if nested else \
                (top - stack.PT_REGS - stack.DEPTH_AT_INIT) & ~0xF
            cpu.set_reg("rsp", rsp)
            for reg, value in zip(("rdi", "rsi", "rdx", "rcx", "r8", "r9"), args, strict=False):
                cpu.set_reg(reg, value)
            cpu.push(C.RETURN_TRAP)
            if not nested:
                self.enter()
            if task is not None:
                return task.run(self, address, budget)
            return self.run_from(address, budget)
        except SimulatorLimit:
            module = self._running[-1]
            if module is not None and module.name not in self.abandoned:
                self.abandoned.append(module.name)
            raise
        finally:
            self._depth -= 1
            self._running.pop()
            if saved is not None:
                cpu.uc.context_restore(saved)

    def run_from(self, address: int, budget: int = BUDGET) -> int:
        """Run from `address` until the CPU reaches RETURN_TRAP (a WARN resumes after its
        ud2); returns %rax. A kapi function's exception, a fault or the budget stop it."""
        outer_calls, self._kapi_calls = self._kapi_calls, 0
        try:
            return self._run(address, budget)
        finally:
            self._kapi_calls = outer_calls

    def _run(self, address: int, budget: int) -> int:
        cpu = self.cpu
        start = address
        while True:
            self._pending = self._fault = None
            try:
                cpu.uc.emu_start(start, C.RETURN_TRAP, count=budget)
            except self.cpu.unicorn.UcError as err:
                outcome = self._trap_from_error(err)
                if not isinstance(outcome, ModuleFault):
                    raise outcome from None  # a SimulatorLimit (an instruction not modelled)
                self._fault = outcome
            if self._pending is not None:  # cleared: a nested run's must not reach the outer
                pending, self._pending = self._pending, None
                raise pending
            if self._fault is None:
                if self._scanner.resume():  # the scanner hooked a privileged instruction
                    start = cpu.reg("rip")
                    continue
                break
            resume = self._handle_bug(self._fault)
            if resume is None:
                fault, self._fault = self._fault, None
                raise fault
            start = resume  # a WARN: the CPU goes on after the ud2
        if cpu.reg("rip") != C.RETURN_TRAP:
            raise Runaway(f"kcourse: {self.symbolize(cpu.reg('rip'))} did not return after "
                          f"{budget:,} instructions (an endless loop?); the real kernel "
                          "would hang here and report a soft lockup")
        return cpu.reg("rax")

    def reg(self, name: str) -> int:
        return self.cpu.reg(name)

    def _handle_bug(self, fault) -> int | None:
        """A #UD on a ud2 with a __bug_table entry (kcourse.machine.bugs): a WARN is
        reported and resumed (the address to go on at is returned); a BUG is kept on the
        fault for faults.report."""
        if fault.vector != X86_TRAP_UD:
            return None
        from kcourse.machine import bugs

        entry = bugs.lookup(self, fault.rip)
        if entry is None:
            return None
        if not entry.warning:
            fault.bug = entry
            return None
        bugs.warn(self, entry, fault, *self.kernel.current)
        return fault.rip + bugs.LEN_UD2

    def _on_slot(self, uc, address, size, _user) -> None:
        name = self._slot_names.get(address)
        if name is None:
            return
        from kcourse.kapi.abi import Call

        fn = self.functions.get(name)
        return_address = 0
        try:
            return_address = self.space.read_u64(self.cpu.reg("rsp"))
            self._kapi_calls += 1
            if self._kapi_calls > KAPI_BUDGET:
                raise Runaway(f"kcourse: {self.symbolize(return_address - 5)} did not return "
                              f"after {KAPI_BUDGET:,} calls into the kernel, {name}() the "
                              "last (an endless loop?); the real kernel would hang here and "
                              "report a soft lockup")
            if fn is None:
                raise Unmodelled(name, self.symbolize(return_address - 5))
            call = Call(self, fn, return_address)
            result = fn.impl(call, *call.decode())
            if result is not None:
                self.cpu.set_reg("rax", int(result))
        except BadAccess as bad:  # the kernel function itself faults, as its C would
            self._pending = ModuleFault(X86_TRAP_PF, address, bad.address,
                                        self.cpu.registers(), write=bad.write)
            uc.emu_stop()
        except KcourseError as err:  # a model refusing what it cannot represent: one line
            site = self.symbolize(return_address - 5) or f"{return_address - 5:#x}"
            self._pending = err if isinstance(err, KernelErrno) else SimulatorLimit(
                f"kcourse: {site}: {err}; run it on the real kernel with `kcourse sim --real`")
            uc.emu_stop()
        except BaseException as exc:  # noqa: BLE001 - handed to call(), which raises it
            self._pending = exc
            uc.emu_stop()

    def _trap_from_error(self, err):
        """unicorn reports some traps as errors rather than interrupts: an invalid opcode
        (a ud2 included) is #UD, an access it could not map is a page fault."""
        uc = self.cpu.unicorn
        rip = self.cpu.reg("rip")
        if err.errno == uc.UC_ERR_INSN_INVALID:  # #UD, or an instruction unicorn lacks
            return privileged.invalid_opcode(self, rip)
        if err.errno in (uc.UC_ERR_FETCH_UNMAPPED, uc.UC_ERR_FETCH_PROT):
            return ModuleFault(X86_TRAP_PF, rip, rip, self.cpu.registers())
        return ModuleFault(X86_TRAP_GP, rip, 0, self.cpu.registers())

    def _on_trap(self, uc, vector, _user) -> None:
        outcome = privileged.on_trap(self, vector)  # a fault, a limit (`int $0x80`), or None
        if outcome is not None:
            self.stop(outcome)

    def stop(self, outcome: BaseException) -> None:
        """Stop the CPU; call() raises `outcome` (a ModuleFault or a SimulatorLimit)."""
        if isinstance(outcome, ModuleFault):
            self._fault = outcome
        else:
            self._pending = outcome
        self.cpu.uc.emu_stop()

    # ------------------------------------------------------------------ lookups
    def module_at(self, address: int):
        for code in self.codes:
            if code.contains(address):
                return code.module
        return None

    def running_module(self):
        """The module whose code the innermost call from the simulator entered (a kapi call
        reached by a tail call returns to the simulator, not into the module)."""
        return next((m for m in reversed(self._running) if m is not None), None)

    def symbolize(self, address: int) -> str | None:
        """%pS: `func+0xoff/0xsize [mod]` in a module, the kernel function's name for a slot."""
        for code in self.codes:
            if code.contains(address):
                return code.symbolize(address)
        slot = address - (address - C.KAPI_TEXT) % C.SLOT
        if slot in self._slot_names:
            return f"{self._slot_names[slot]}+{address - slot:#x}/{C.SLOT:#x}"
        return None

    def unmodelled_data_at(self, address: int) -> str | None:
        page = address - (address - C.UNMODELLED) % (2 * C.PAGE)
        return self._unmodelled.get(page)

    def read_u32(self, address: int) -> int:
        return struct.unpack("<I", self.space.read(address, 4))[0]


def _looks_like_data(name: str) -> bool:
    """An undefined symbol carries no type, so the pinned kernel's export table decides:
    vmlinux exports it outside .text (data/kernel/structs.json), or it is a tracepoint's or
    a static call key's variable."""
    return structs.is_data_symbol(name) or name.startswith(("__tracepoint_", "__SCK__"))
