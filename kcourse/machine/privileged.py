"""Instructions unicorn runs differently from Debian's kernel on the lab's CPU, and traps.

Module code runs in ring 0, where the real CPU lets it halt, reprogram the CPU or talk to
devices. unicorn (QEMU 5's TCG, without the kernel's IDT, GDT or devices) would instead
ignore some of these (wrmsr to an unknown MSR, out, lgdt), stop (hlt), or leave long mode
(mov to %cr0 clearing PG, then crawl through physical memory for minutes). So:

- Scanner looks at every translation block unicorn generates (UC_HOOK_EDGE_GENERATED fires
  once per new block, before it runs). A block that holds one of the instructions below gets
  a code hook on that instruction and is translated again, so the hook runs before the
  instruction does, and does what the real machine does:
  - `hlt` with interrupts on waits for the next timer tick, then goes on (skipped here); with
    them off the CPU never wakes (Runaway: the real kernel would hang);
  - `int1` (icebp) is ignored: arch/x86/kernel/traps.c exc_debug_kernel, "The kernel
    doesn't use INT1"; `clac` only re-arms SMAP, which is always armed here;
  - `mov %reg,%cr0` that clears PG or PE is #GP (Intel SDM vol. 2, MOV CRn: "#GP(0) if an
    attempt is made to clear CR0.PG" in 64-bit mode); toggling WP (as LKMPG's syscall-steal
    does) runs; any other change of CR0 is not modelled;
  - everything else in PRIVILEGED (MSRs, port I/O, system-call and privilege changes,
    descriptor tables, segment loads, debug and control registers, stac) stops with one
    SimulatorLimit line naming the instruction: the simulator has no devices, MSRs or
    descriptor tables, so any answer would be made up.
- on_trap: a trap unicorn delivers (UC_HOOK_INTR), including `int $N` from module code. From
  ring 0 every IDT gate of 6.1 is reachable (arch/x86/kernel/idt.c); the vectors whose
  handler only die()s are faults (their oops titles are in kcourse.machine.faults), `int $1`
  is ignored like int1, single-stepping (EFLAGS.TF) and the rest are SimulatorLimit.
- invalid_opcode: UC_ERR_INSN_INVALID. An instruction capstone decodes (AVX, VMX...) that
  unicorn does not implement is a SimulatorLimit; ud0/ud1/ud2 and undecodable bytes are the
  kernel's #UD; a ud2 listed in the module's __bug_table is a BUG() or WARN(), which
  kcourse.machine.bugs reports as lib/bug.c does.
"""

from __future__ import annotations

import functools
import re

from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine.address_space import BadAccess

X86_EFLAGS_IF, X86_EFLAGS_TF = 1 << 9, 1 << 8
X86_CR0_PE, X86_CR0_ET, X86_CR0_WP, X86_CR0_PG = 1 << 0, 1 << 4, 1 << 16, 1 << 31
X86_TRAP_DB, X86_TRAP_BP, X86_TRAP_UD, X86_TRAP_GP = 1, 3, 6, 13
# Vectors whose 6.1 handler, entered from kernel mode by `int $N` or by the exception itself,
# ends in die() (traps.c: do_error_trap, exc_bounds, exc_device_not_available, math_error).
DIE_VECTORS = {0, 3, 4, 5, 6, 7, 9, 16, 19}
# A byte pattern every instruction scanned for contains (a cheap filter before capstone).
PREFILTER = re.compile(rb"[\xf4\xf1\xe4-\xe7\xec-\xef\x6c-\x6f\xcf\xca\xcb\x8e]|"
                       rb"\x0f[\x00\x01\x05\x07\x22\x23\x30\x32\x34\x35\xa1\xa9\xb2\xb4\xb5]|"
                       rb"\xff[\x18-\x1f\x28-\x2f\x58-\x5f\x68-\x6f\x98-\x9f\xa8-\xaf]")
PRIVILEGED = {
    "rdmsr": "model-specific registers", "wrmsr": "model-specific registers",
    "in": "port I/O", "out": "port I/O", "insb": "port I/O", "insw": "port I/O",
    "insd": "port I/O", "outsb": "port I/O", "outsw": "port I/O", "outsd": "port I/O",
    "syscall": "a system call from the kernel", "sysenter": "a system call from the kernel",
    "sysret": "a return to user mode", "sysretq": "a return to user mode",
    "sysexit": "a return to user mode", "iretq": "an interrupt return",
    "iretd": "an interrupt return", "iret": "an interrupt return", "retf": "a far return",
    "swapgs": "the per-CPU GS base", "lgdt": "descriptor tables", "lidt": "descriptor tables",
    "lldt": "descriptor tables", "ltr": "descriptor tables", "lmsw": "control registers",
    "lfs": "segment registers", "lgs": "segment registers", "lss": "segment registers",
    "stac": "SMAP (user memory is not mapped in the kernel's view here)",
}
SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss")


def classify(mnemonic: str, ops: str) -> str | None:
    """What to do with an instruction: None (run it), 'skip', 'hlt', 'cr0', or the reason
    it is not modelled."""
    if mnemonic in ("int1", "clac"):
        return "skip"
    if mnemonic == "hlt":
        return "hlt"
    if mnemonic in PRIVILEGED:
        return PRIVILEGED[mnemonic]
    dest = ops.split(",", 1)[0].strip()
    if mnemonic == "mov" and dest == "cr0":
        return "cr0"
    if mnemonic == "mov" and re.fullmatch(r"cr[3-9]|cr1[0-5]|dr\d", dest):
        return "control and debug registers"
    if mnemonic in ("mov", "pop") and dest in SEGMENTS:
        return "segment registers"
    if mnemonic in ("jmp", "call") and ops.startswith("ptr "):
        return "a far jump"
    return None


@functools.lru_cache(maxsize=1)
def disassembler():
    import capstone

    return capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


def decode(machine, address: int):
    """(size, mnemonic, operands) of the instruction at address, or None."""
    try:
        code = machine.space.read(address, 15)
    except BadAccess:
        code = b""
        for n in range(15, 0, -1):  # the instruction may end just before an unmapped page
            if machine.space.is_mapped(address, n):
                code = machine.space.read(address, n)
                break
    for _addr, size, mnemonic, ops in disassembler().disasm_lite(code, address, 1):
        return size, mnemonic, ops
    return None


def limit(machine, address: int, text: str, why: str) -> SimulatorLimit:
    site = machine.symbolize(address) or f"{address:#x}"
    return SimulatorLimit(f"kcourse: {site} executes `{text}`, which the simulator does not "
                          f"model ({why}); run it on the real kernel with `kcourse sim --real`")


class Scanner:
    """Finds the instructions of classify() in each new translation block and hooks them."""

    def __init__(self, machine, stack_top: int):
        from kcourse.machine import cpu as C

        self.machine = machine
        self.hooked: set[int] = set()
        self._found: dict[tuple[int, bytes], tuple[int, ...]] = {}  # block -> its classify() hits
        self.retranslate = False
        uc, unicorn = machine.cpu.uc, machine.cpu.unicorn
        self._code_hook = unicorn.UC_HOOK_CODE
        uc.hook_add(unicorn.UC_HOOK_EDGE_GENERATED, self._on_new_block)
        # unicorn reports a new block only once some block has run (uc->last_tb is set):
        # run one `ret` so that the module's first block is seen too.
        machine.cpu.set_reg("rsp", stack_top - 64)
        machine.cpu.push(C.RETURN_TRAP)
        uc.emu_start(C.THUNKS, C.RETURN_TRAP)

    def _on_new_block(self, uc, block, _prev, _user) -> None:
        try:
            code = self.machine.space.read(block.pc, block.size)
        except BadAccess:
            return
        if not block.size or not PREFILTER.search(code):
            return
        key = (block.pc, code)
        found = self._found.get(key)
        if found is None:  # a module loaded again at the same place: the same bytes, no decode
            if len(self._found) > 20_000:  # bounded: a long session's blocks
                self._found.clear()
            found = self._found[key] = tuple(
                address for address, _size, mnemonic, ops in
                disassembler().disasm_lite(code, block.pc) if classify(mnemonic, ops) is not None)
        for address in found:
            if address not in self.hooked:
                self.hooked.add(address)
                uc.hook_add(self._code_hook, self._on_instruction, begin=address, end=address)
                self.retranslate = True
        if self.retranslate:
            uc.emu_stop()  # before the block runs; Machine.call translates it again

    def resume(self) -> bool:
        """After emu_start returned: must the call go on (a block is to be translated again
        with its new hooks)?"""
        if not self.retranslate:
            return False
        self.retranslate = False
        self.machine.cpu.uc.ctl_flush_tb()
        return True

    def _on_instruction(self, uc, address, _size, _user) -> None:
        machine = self.machine
        insn = decode(machine, address)
        action = classify(insn[1], insn[2]) if insn else None
        if action is None:
            return
        size, mnemonic, ops = insn
        text = f"{mnemonic} {ops}".strip()
        if action == "skip":
            machine.cpu.set_reg("rip", address + size)
            return
        if action == "hlt":
            if machine.cpu.reg("eflags") & X86_EFLAGS_IF:  # woken by the next timer tick
                machine.cpu.set_reg("rip", address + size)
                return
            from kcourse.machine.machine import Runaway

            site = machine.symbolize(address) or f"{address:#x}"
            machine.stop(Runaway(f"kcourse: {site} halts the CPU with interrupts disabled "
                                 "(hlt after cli); the real kernel would hang here"))
            return
        if action == "cr0":
            old = machine.cpu.uc.reg_read(machine.cpu.x86.UC_X86_REG_CR0)
            new = machine.cpu.reg(ops.split(",")[1].strip())
            if not new & X86_CR0_PG or not new & X86_CR0_PE or new >> 32:
                from kcourse.machine.machine import ModuleFault

                machine.stop(ModuleFault(X86_TRAP_GP, address, 0, machine.cpu.registers()))
            elif (old ^ new) & ~(X86_CR0_WP | X86_CR0_ET):  # ET: hardwired to 1
                machine.stop(limit(machine, address, text, "CR0 bits other than WP"))
            return
        machine.stop(limit(machine, address, text, action))


def software_interrupt(machine, vector: int, rip: int) -> bool:
    """Did `int $vector` (or int3) just run? A trap leaves RIP after the instruction."""
    try:
        return machine.space.read(rip - 2, 2) == bytes([0xCD, vector]) or \
            (vector == X86_TRAP_BP and machine.space.read(rip - 1, 1) == b"\xcc")
    except BadAccess:
        return False


def on_trap(machine, vector: int):
    """What a trap from module code becomes: None (go on), a ModuleFault, or a limit."""
    from kcourse.machine.machine import ModuleFault

    rip = machine.cpu.reg("rip")
    regs = machine.cpu.registers()
    soft = software_interrupt(machine, vector, rip)
    if vector == X86_TRAP_DB:
        if soft:
            return None  # exc_debug_kernel: no DR6 bit set, "The kernel doesn't use INT1"
        return limit(machine, rip, "(single step)", "the trap flag, EFLAGS.TF")
    if soft and vector not in DIE_VECTORS:
        return limit(machine, rip - 2, f"int {vector:#x}", "that interrupt's handler")
    cr2 = machine.cpu.cr2() if vector == 14 else 0
    return ModuleFault(vector, rip, cr2, regs)


def invalid_opcode(machine, rip: int):
    """UC_ERR_INSN_INVALID at rip: the kernel's #UD, or a limit (see the module doc)."""
    from kcourse.machine.machine import ModuleFault

    regs = machine.cpu.registers()
    insn = decode(machine, rip)
    if insn is not None:
        size, mnemonic, ops = insn
        if mnemonic == "int" and ops == "6":  # unicorn reports `int $6` at the instruction
            return ModuleFault(X86_TRAP_UD, rip + size, 0, regs)
        if mnemonic not in ("ud0", "ud1", "ud2"):
            return limit(machine, rip, f"{mnemonic} {ops}".strip(),
                         "an instruction the emulated CPU does not implement")
    return ModuleFault(X86_TRAP_UD, rip, 0, regs)
