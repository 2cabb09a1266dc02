"""A trap in module code, reported as the 6.1 kernel reports it.

- page fault (#PF, vector 14): arch/x86/mm/fault.c page_fault_oops -> show_fault_oops:
  "BUG: kernel NULL pointer dereference, address: %px" below PAGE_SIZE, else "BUG: unable to
  handle page fault for address: %px"; "#PF: supervisor read|write access in kernel mode"
  (or "instruction fetch"); "#PF: error_code(0x%04lx) - not-present page" or
  "permissions violation" (a present user page refused by SMAP); then dump_pagetable and
  __die's "Oops: %04lx [#N]". A fault in the guard page below a kernel stack is
  "BUG: stack guard page was hit at %p (stack is %p..%p)" and a double fault
  (arch/x86/kernel/traps.c handle_stack_overflow), which panics; any fault whose exception
  frame the stack cannot take is a double fault too ("traps: PANIC: double fault",
  exc_double_fault);
- #GP (13): "general protection fault, probably for non-canonical address 0x%lx" when the
  address the instruction names is not canonical, "maybe for address 0x%lx" when it is
  (arch/x86/kernel/traps.c exc_general_protection, get_kernel_gp_address);
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

from kcourse.kernel import oops, sched_reports, uaccess
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
    # a kernel thread's own code, a timer callback (kcourse.kernel.sched_reports.TAILS)
    "kthread": sched_reports.TAILS["kthread"], "kworker": sched_reports.TAILS["kworker"],
    "timer": sched_reports.TAILS["timer"], "timer-wheel": sched_reports.TAILS["timer-wheel"],
    "tasklet": sched_reports.TAILS["tasklet"],
    "ksoftirqd-tasklet": sched_reports.TAILS["ksoftirqd-tasklet"],
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
    start = (ip - PROLOGUE_SIZE) & (1 << 64) - 1  # dumpstack.c: an unsigned long prologue
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


def report(machine, fault, pid: int, comm: str, in_interrupt: bool = False) -> oops.KernelOops:
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
    unpushable = frame_unpushable(machine, fault.regs["rsp"])
    if unpushable is not None:
        return _double_fault(machine, fault, mach, pid, comm, rip, regs, unpushable)
    head: list[tuple[int, str]] = []
    title, err, cr2 = "Oops", 0, 0
    if fault.vector in (14, -1):
        cr2 = fault.cr2 if fault.vector == 14 else fault.rip
        fetch = cr2 == fault.rip
        write = not fetch and (fault.write if fault.write is not None else
                               is_write(machine, fault.rip))
        if machine.stack_base - C.PAGE <= cr2 < machine.stack_base:
            return _stack_overflow(machine, fault, mach, pid, comm, rip, regs, cr2)
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
    elif fault.vector == 13:
        title = gp_title(machine, fault)
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
        in_interrupt=in_interrupt or fault.vector in NMI_CONTEXT)
    lines = head + lines
    return oops.KernelOops(lines, panic=panicked, headline=(head or lines)[0][1])


def gp_title(machine, fault) -> str:
    """traps.c exc_general_protection, error code 0: get_kernel_gp_address decodes the
    instruction at RIP and takes the address its ModRM names (arch/x86/lib/insn-eval.c
    insn_get_addr_ref: the rm register itself when mod is 3; no ModRM reads as 0, i.e.
    [rax]); an address not canonical over the operand's bytes is "probably for
    non-canonical address 0x%lx", another "maybe for address 0x%lx". No decodable
    instruction at RIP (a jump to a non-canonical address leaves RIP there): no hint."""
    import capstone

    try:
        code = machine.space.read(fault.rip, 15)
    except BadAccess:
        return "general protection fault"
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    insn = next(md.disasm(code, fault.rip, 1), None)
    if insn is None:
        return "general protection fault"
    regs = fault.regs
    mem = next((op.mem for op in insn.operands if op.type == capstone.x86.X86_OP_MEM), None)
    if insn.modrm_offset and insn.modrm >> 6 != 3 and mem is not None:
        address = mem.disp + (_reg(insn, regs, mem.base, fault.rip + insn.size) +
                              _reg(insn, regs, mem.index, 0) * mem.scale)
        if insn.addr_size == 4:
            address &= 0xFFFF_FFFF
        if mem.segment in (capstone.x86.X86_REG_GS, capstone.x86.X86_REG_FS):
            reg = "GS_BASE" if mem.segment == capstone.x86.X86_REG_GS else "FS_BASE"
            address += machine.cpu.uc.reg_read(getattr(machine.cpu.x86, f"UC_X86_REG_{reg}"))
    else:  # the rm register (rax for an instruction without ModRM), REX.B extending it
        address = regs[GPRS[(insn.modrm & 7 if insn.modrm_offset else 0) | (insn.rex & 1) << 3]]
    address &= (1 << 64) - 1
    size = 8 if insn.rex & 8 else 2 if 0x66 in insn.prefix else 4  # insn.opnd_bytes
    if address < 0xFFFF_8000_0000_0000 and address + size - 1 > (1 << 47) - 1:
        return f"general protection fault, probably for non-canonical address {address:#x}"
    return f"general protection fault, maybe for address {address:#x}"


GPRS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15")


def _reg(insn, regs: dict[str, int], reg: int, rip_next: int) -> int:
    """The value of an address register capstone names (0 for none, RIP-relative)."""
    if not reg:
        return 0
    name = insn.reg_name(reg)
    if name == "rip":
        return rip_next
    if name in regs:
        return regs[name]
    wide = {"e" + n[1:]: n for n in GPRS[:8]} | {f"{n}d": n for n in GPRS[8:]}
    return regs.get(wide.get(name, ""), 0) & 0xFFFF_FFFF


def frames(kernel, comm: str) -> list[str]:
    return SYSCALL_FRAMES.get(kernel.syscall) or oops._syscall_tail(comm)


def _user_mapped(machine, address: int) -> bool:
    memory = machine.objects.get("user")
    return memory is not None and memory.mapped(address)


def frame_unpushable(machine, rsp: int) -> int | None:
    """Where the CPU fails to push the exception frame, or None. A fault in ring 0 through a
    gate without an IST stack (6.1 gives one only to #DF, NMI, #DB and #MC: arch/x86/kernel/
    idt.c def_idts) pushes SS, RSP, RFLAGS, CS, RIP and an error code on the current stack,
    aligned down to 16 bytes (Intel SDM vol. 3, 6.14.2); a stack pointer that is not
    canonical or not mapped makes that push fault, and the CPU raises a double fault."""
    top = rsp & ~0xF
    for address in (top - 8, top - 48):
        if not machine.space.is_mapped(address):
            return address
    return None


def _double_fault(machine, fault, mach, pid, comm, rip, regs, address) -> oops.KernelOops:
    """arch/x86/kernel/traps.c exc_double_fault, on its IST stack: a CR2 in the guard page
    below the task's stack is handle_stack_overflow's report; otherwise pr_emerg("PANIC:
    double fault, error_code: 0x%lx\n") and die("double fault"), under
    irqentry_nmi_enter(), so oops_end panics. CR2 is the failed push's when it was a page
    fault (a non-canonical push is a #SS, which leaves CR2 as it was)."""
    canonical = address < 1 << 47 or address >= 0xFFFF_8000_0000_0000
    cr2 = address if canonical else machine.cpu.cr2()
    if machine.stack_base - C.PAGE <= cr2 < machine.stack_base:
        return _stack_overflow(machine, fault, mach, pid, comm, rip, regs, cr2)
    # arch/x86/kernel/traps.c: pr_fmt is "traps: " (data/real/bigframe.expected shows it)
    head = [(oops.KERN_EMERG, "traps: PANIC: double fault, error_code: 0x0")]
    lines, _ = oops.die_lines(mach, "double fault", 0, pid, comm, rip,
                              oops._syscall_tail(comm), regs=regs, seed=machine.kernel.seed,
                              rsp=fault.regs["rsp"], code=code_line(machine, fault.rip),
                              in_interrupt=True, cr2=cr2, cr2_summary=False)
    return oops.KernelOops(head + lines, panic=True, headline=head[0][1])


def _stack_overflow(machine, fault, mach, pid, comm, rip, regs, cr2) -> oops.KernelOops:
    """arch/x86/kernel/traps.c handle_stack_overflow: "BUG: TASK stack guard page was hit at
    %p (stack is %p..%p)" (hashed pointers, lib/vsprintf.c ptr_to_id), then die("stack guard
    page") from the double-fault handler, which panics ("Fatal exception in interrupt")."""
    seed = machine.kernel.seed
    top = machine.stack_base + machine.kernel.config_thread_size
    head = [(oops.KERN_EMERG, f"BUG: TASK stack guard page was hit at "
                              f"{hashed(cr2, seed)} (stack is "
                              f"{hashed(machine.stack_base, seed)}..{hashed(top, seed)})")]
    lines, _ = oops.die_lines(mach, "stack guard page", 0, pid, comm, rip,
                              oops._syscall_tail(comm), regs=regs, seed=seed,
                              rsp=fault.regs["rsp"], code=code_line(machine, fault.rip),
                              in_interrupt=True, cr2=cr2, cr2_summary=False)
    return oops.KernelOops(head + lines, panic=True, headline=head[0][1])


def hashed(address: int, seed: int) -> str:
    """%p of an address: the same hash printk's %p gives it (kcourse.kapi.siphash, the
    kernel's ptr_to_hashval: siphash with the boot's key, low 32 bits, 16 hex digits)."""
    from kcourse.kapi.siphash import ptr_hash

    return f"{ptr_hash(address, seed):016x}"
