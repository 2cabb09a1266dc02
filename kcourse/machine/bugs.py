"""BUG() and WARN() in module code: a `ud2` and its __bug_table entry, as lib/bug.c reads them.

x86's BUG()/WARN() (arch/x86/include/asm/bug.h) emit `ud2` and a struct bug_entry in the
module's __bug_table: the ud2's address and the file name as 32-bit displacements from the
entry's own fields (CONFIG_GENERIC_BUG_RELATIVE_POINTERS), the line, and flags (BUGFLAG_WARNING,
_ONCE, _DONE, _NO_CUT_HERE; the taint to add in the top byte). The #UD handler
(arch/x86/kernel/traps.c handle_bug) asks report_bug (lib/bug.c):
- a WARN prints CUT_HERE and __warn's report (kernel/panic.c: "WARNING: CPU: %d PID: %d at
  %s:%d %pS", the module list, show_regs, the end marker), adds its taint (W), and the CPU goes
  on after the ud2 (regs->ip += LEN_UD2); a WARN_ONCE that fired before is silent
  (BUGFLAG_DONE is written back into the entry);
- a BUG prints CUT_HERE and "kernel BUG at %s:%u!", then dies: "invalid opcode: 0000 [#1]".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kcourse.kernel import oops, structs
from kcourse.machine.address_space import BadAccess

BUGFLAG_WARNING, BUGFLAG_ONCE, BUGFLAG_DONE, BUGFLAG_NO_CUT_HERE = 1, 2, 4, 8
LEN_UD2 = 2
ENTRY_SIZE = structs.sizeof("bug_entry")
FLAGS_OFFSET = structs.offsetof("bug_entry", "flags")


@dataclass(frozen=True)
class BugEntry:
    address: int  # where the entry is (its flags are written back there)
    file: str | None
    line: int
    flags: int

    @property
    def warning(self) -> bool:
        return bool(self.flags & BUGFLAG_WARNING)

    @property
    def taint(self) -> int:
        return self.flags >> 8  # BUG_GET_TAINT


def lookup(machine, rip: int) -> BugEntry | None:
    """find_bug: the __bug_table entry of the ud2 at rip, in the module that holds it."""
    module = machine.module_at(rip)
    if module is None:
        return None
    space = machine.space
    for sec in module.sections:
        if sec.name != "__bug_table":
            continue
        for at in range(sec.address, sec.address + sec.size - ENTRY_SIZE + 1, ENTRY_SIZE):
            try:
                addr_disp, file_disp, line, flags = struct.unpack(
                    "<iiHH", space.read(at, ENTRY_SIZE))
            except BadAccess:
                return None
            if at + addr_disp != rip:
                continue
            file = None
            if file_disp:
                try:
                    file = space.read_cstring(at + 4 + file_disp, 256).decode("utf-8",
                                                                             "replace")
                except BadAccess:
                    file = None
            return BugEntry(at, file, line, flags)
    return None


def warn(machine, entry: BugEntry, fault, pid: int, comm: str) -> None:
    """report_bug for a WARN: print, taint, mark a _ONCE entry done. The caller resumes."""
    from kcourse.machine import faults

    if entry.flags & BUGFLAG_ONCE:
        if entry.flags & BUGFLAG_DONE:
            return
        machine.space.write(entry.address + FLAGS_OFFSET,
                            (entry.flags | BUGFLAG_DONE).to_bytes(2, "little"))
    kernel = machine.kernel
    mach = kernel.machine()
    caller = machine.symbolize(fault.rip) or f"0x{fault.rip:x}"
    where = f" at {entry.file}:{entry.line}" if entry.file else ""
    lines = [] if entry.flags & BUGFLAG_NO_CUT_HERE else [(oops.KERN_DEFAULT, oops.CUT_HERE)]
    lines += [(oops.KERN_WARNING, f"WARNING: CPU: {mach.cpu} PID: {pid}{where} {caller}"),
              (oops.KERN_WARNING, mach.modules_line()),
              (oops.KERN_DEFAULT, mach.cpu_line(pid, comm)),
              (oops.KERN_DEFAULT, f"Hardware name: {mach.hardware}")]
    regs = {k: fault.regs[v] for k, v in faults.REG_NAMES.items()}
    lines += oops.register_lines(caller, fault.regs["rsp"], fault.regs["eflags"], regs, 0,
                                 faults.code_line(machine, fault.rip))
    lines += oops.call_trace(faults.frames(kernel, comm))
    lines.append((oops.KERN_WARNING, oops.END_TRACE))
    for level, text in lines:
        kernel.log.printk(f"\001{level}{text}\n")
    bit = 1 << (entry.taint if 0 < entry.taint < 19 else oops.TAINT_WARN)  # add_taint
    if not kernel.tainted & bit:
        kernel.tainted |= bit
        owner = machine.module_at(fault.rip)
        kernel.event("taint", owner.name if owner else "", bit)


def bug_lines(entry: BugEntry, rip_text: str) -> list[tuple[int, str]]:
    """The lines report_bug prints before die() for a BUG()."""
    lines = [] if entry.flags & BUGFLAG_NO_CUT_HERE else [(oops.KERN_DEFAULT, oops.CUT_HERE)]
    if entry.file:
        lines.append((oops.KERN_CRIT, f"kernel BUG at {entry.file}:{entry.line}!"))
    else:
        lines.append((oops.KERN_CRIT, f"Kernel BUG at {rip_text} [verbose debug info "
                                      "unavailable]"))
    return lines
