"""A trap in module code, reported as the 6.1 kernel reports it.

- page fault (#PF, vector 14): arch/x86/mm/fault.c page_fault_oops -> show_fault_oops:
  "BUG: kernel NULL pointer dereference, address: %px" below PAGE_SIZE, else "BUG: unable to
  handle page fault for address: %px"; "#PF: supervisor read|write access in kernel mode"
  (or "instruction fetch"); "#PF: error_code(0x%04lx) - not-present page" or
  "permissions violation" (a present user page refused by SMAP); then dump_pagetable and
  __die's "Oops: %04lx [#N]". A fault in the guard page below a kernel stack is
  "BUG: stack guard page was hit at %p (stack is %p..%p)" and a double fault
  (arch/x86/kernel/traps.c handle_stack_overflow), which panics;
- #GP (13): "general protection fault, probably for non-canonical address 0x%lx" when the
  address is not canonical (arch/x86/kernel/traps.c exc_general_protection);
- #UD (6): "invalid opcode: 0000 [#1]" (a BUG() reaches handle_bug first: not modelled yet);
- divide error (0): "divide error: 0000 [#1]"; int3 (3): "int3: 0000 [#1]", then a panic, as
  exc_int3 dies in NMI context; the other die() titles of traps.c in TITLES, for the vectors
  that `int $N` can reach as well (kcourse.machine.privileged).

The RIP line is %pS of the faulting instruction in the module's own symbols, `Code:` is the
64 bytes around it read from the emulated memory (dumpstack.c show_opcodes), and the
registers are the CPU's at the fault. Which access it was comes from decoding the faulting
instruction with capstone (the field's disassembler): a memory operand it writes is a write.
"""

from __future__ import annotations

import random

from kcourse.kernel import oops, uaccess
from kcourse.kernel.faultsite import OPCODE_BUFSIZE, PROLOGUE_SIZE
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import cpu as C
from kcourse.machine.address_space import BadAccess

PAGE_SIZE = 4096
USER_TOP = 1 << 47
X86_PF_PROT, X86_PF_WRITE, X86_PF_INSTR = 0x1, 0x2, 0x10
# The kernel's frames below the module's code in each system call (Call Trace: lines; the
# offsets are those of Debian's 6.1 build as the lab's recordings show them).
SYSCALL_FRAMES = {
    "write": ["vfs_write+0xc7/0x3f0", "ksys_write+0x6b/0xf0", "do_syscall_64+0x55/0xb0",
              "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"],
}
# die(str, ...) of each trap handler in arch/x86/kernel/traps.c (6.1): exc_divide_error,
# exc_int3, exc_overflow, exc_bounds, handle_invalid_op, exc_device_not_available,
# exc_coproc_segment_overrun, exc_stack_segment, exc_general_protection, math_error.
TITLES = {0: "divide error", 3: "int3", 4: "overflow", 5: "bounds", 6: "invalid opcode",
          7: "unexpected #NM exception", 9: "coprocessor segment overrun", 12: "stack segment",
          13: "general protection fault", 16: "fpu exception", 19: "simd exception"}
# exc_int3 from kernel mode runs under irqentry_nmi_enter(), so in_interrupt() is true when
# die() reaches oops_end (dumpstack.c), which panics: "Fatal exception in interrupt".
NMI_CONTEXT = {3}
REG_NAMES = {"RAX": "rax", "RBX": "rbx", "RCX": "rcx", "RDX": "rdx", "RSI": "rsi",
             "RDI": "rdi", "RBP": "rbp", "R08": "r8", "R09": "r9", "R10": "r10", "R11": "r11",
             "R12": "r12", "R13": "r13", "R14": "r14", "R15": "r15"}


def code_line(machine, ip: int) -> str:
    start = ip - PROLOGUE_SIZE
    try:
        code = machine.space.read(start, OPCODE_BUFSIZE)
    except BadAccess:
        return f"Code: Unable to access opcode bytes at 0x{start:x}."
    hexes = " ".join(f"{b:02x}" for b in code[:PROLOGUE_SIZE])
    tail = " ".join(f"{b:02x}" for b in code[PROLOGUE_SIZE + 1:])
    return f"Code: {hexes} <{code[PROLOGUE_SIZE]:02x}> {tail}"


def unreadable_at(machine, start: int, length: int) -> int | None:
    """The first address show_opcodes' copy_from_kernel_nofault could not read, or None.
    That failed read leaves its address in CR2, which __show_regs then prints
    (arch/x86/kernel/process_64.c); the summary line after the trace keeps the fault's."""
    for address in range(start, start + length):
        if not machine.space.is_mapped(address):
            return address
    return None


def is_write(machine, ip: int) -> bool:
    """Does the instruction at ip store to memory? (capstone's operand access flags)"""
    import capstone

    try:
        code = machine.space.read(ip, 16)
    except BadAccess:
        return False
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    for insn in md.disasm(code, ip, 1):
        for op in insn.operands:
            if op.type == capstone.x86.X86_OP_MEM and op.access & capstone.CS_AC_WRITE:
                return True
    return False


def report(machine, fault, pid: int, comm: str) -> oops.KernelOops:
    """The KernelOops for a ModuleFault, or SimulatorLimit when the fault is only the
    simulator's (a touch of a kernel variable kcourse does not model)."""
    if fault.vector == 14:
        symbol = machine.unmodelled_data_at(fault.cr2)
        if symbol is not None:
            site = machine.symbolize(fault.rip) or f"{fault.rip:#x}"
            raise SimulatorLimit(f"kcourse: {site} uses the kernel variable {symbol}, which "
                                 "the simulator does not model; run it on the real kernel "
                                 "with `kcourse sim --real`")
    kernel = machine.kernel
    mach = kernel.machine()
    rip = machine.symbolize(fault.rip) or f"0x{fault.rip:x}"
    regs = {k: fault.regs[v] for k, v in REG_NAMES.items()}
    head: list[tuple[int, str]] = []
    title, err, cr2 = "Oops", 0, 0
    if fault.vector in (14, -1):
        cr2 = fault.cr2 if fault.vector == 14 else fault.rip
        fetch = cr2 == fault.rip
        write = not fetch and is_write(machine, fault.rip)
        if machine.stack_base - C.PAGE <= cr2 < machine.stack_base:
            return _stack_overflow(machine, fault, mach, pid, comm, rip, regs)
        user_page = cr2 < USER_TOP and _user_mapped(machine, cr2)
        # present: a user page SMAP refused, or a read-only kernel page written to
        present = user_page or (cr2 >= USER_TOP and machine.space.is_mapped(cr2))
        err = (X86_PF_PROT if present else 0) | (X86_PF_WRITE if write else 0) | \
            (X86_PF_INSTR if fetch else 0)
        first = (f"BUG: kernel NULL pointer dereference, address: {cr2:016x}"
                 if cr2 < PAGE_SIZE else f"BUG: unable to handle page fault for address: "
                 f"{cr2:016x}")
        access = "instruction fetch" if fetch else ("write access" if write else "read access")
        head = [(oops.KERN_ALERT, first),
                (oops.KERN_ALERT, f"#PF: supervisor {access} in kernel mode"),
                (oops.KERN_ALERT, f"#PF: error_code(0x{err:04x}) - " +
                 ("permissions violation" if present else "not-present page")),
                uaccess.pagetable_line(user_page, random.Random(kernel.seed))]
    elif fault.vector in TITLES:
        title = TITLES[fault.vector]
        if fault.vector == 6 and fault.bug is not None:
            from kcourse.machine import bugs

            head = bugs.bug_lines(fault.bug, rip)
    else:
        raise SimulatorLimit(f"kcourse: {rip}: trap {fault.vector}, which the simulator does "
                             "not model; run it on the real kernel with `kcourse sim --real`")
    lines, panicked = oops.die_lines(
        mach, title, err, pid, comm, rip, frames(kernel, comm), cr2=cr2, regs=regs,
        seed=kernel.seed, rsp=fault.regs["rsp"], code=code_line(machine, fault.rip),
        cr2_now=unreadable_at(machine, fault.rip - PROLOGUE_SIZE, OPCODE_BUFSIZE),
        in_interrupt=fault.vector in NMI_CONTEXT)
    lines = head + lines
    return oops.KernelOops(lines, panic=panicked, headline=(head or lines)[0][1])


def frames(kernel, comm: str) -> list[str]:
    return SYSCALL_FRAMES.get(kernel.syscall) or oops._syscall_tail(comm)


def _user_mapped(machine, address: int) -> bool:
    memory = machine.objects.get("user")
    return memory is not None and memory.mapped(address)


def _stack_overflow(machine, fault, mach, pid, comm, rip, regs) -> oops.KernelOops:
    """arch/x86/kernel/traps.c handle_stack_overflow: "BUG: TASK stack guard page was hit at
    %p (stack is %p..%p)" (hashed pointers, lib/vsprintf.c ptr_to_id), then die("stack guard
    page") from the double-fault handler, which panics ("Fatal exception in interrupt")."""
    seed = machine.kernel.seed
    top = machine.stack_base + machine.kernel.config_thread_size
    head = [(oops.KERN_EMERG, f"BUG: TASK stack guard page was hit at "
                              f"{hashed(fault.cr2, seed)} (stack is "
                              f"{hashed(machine.stack_base, seed)}..{hashed(top, seed)})")]
    lines, _ = oops.die_lines(mach, "stack guard page", 0, pid, comm, rip,
                              oops._syscall_tail(comm), regs=regs, seed=seed,
                              rsp=fault.regs["rsp"], code=code_line(machine, fault.rip),
                              in_interrupt=True, cr2=fault.cr2, cr2_summary=False)
    return oops.KernelOops(head + lines, panic=True, headline=head[0][1])


def hashed(address: int, seed: int) -> str:
    """%p of an address: the same hash printk's %p gives it (kcourse.kapi.siphash, the
    kernel's ptr_to_hashval: siphash with the boot's key, low 32 bits, 16 hex digits)."""
    from kcourse.kapi.siphash import ptr_hash

    return f"{ptr_hash(address, seed):016x}"
