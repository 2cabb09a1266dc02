"""WARN() and WARN_ON() in the kernel's own code that a module's call reaches (a proc entry
registered twice, a sysfs name taken), as kernel/panic.c prints them.

WARN(cond, fmt, ...) is __warn_printk (CUT_HERE, then the message at the default level) and
a ud2 with BUGFLAG_NO_CUT_HERE; WARN_ON(cond) is the ud2 alone, whose report_bug prints
CUT_HERE. Either way __warn prints "WARNING: CPU: 0 PID: <pid> at <file>:<line> <function>",
the module list, the registers and the call trace (oops.warning_lines: register values and
the kernel function's offset are model values), and add_taint(TAINT_WARN). The call trace
names the module function that called into the kernel.
"""

from __future__ import annotations

import re

from kcourse.kernel import oops


def _report(call, where: str, function: str, message: str | None, inner: list[str],
            offset: str | None = None) -> None:
    kernel = call.kernel
    pid, comm = kernel.current
    lines = oops.warning_lines(where, function, pid, comm, site=call.site,
                               machine=kernel.machine(), seed=kernel.seed, inner=inner)
    if offset is not None:  # the real kernel's "+0x97/0x110", where a recording gives it
        pattern = re.compile(rf"{re.escape(function)}\+0x[0-9a-f]+/0x[0-9a-f]+")
        lines = [(level, pattern.sub(function + offset, text)) for level, text in lines]
    if message is not None:  # __warn_printk: the message right after "cut here"
        lines.insert(1, (oops.KERN_DEFAULT, message))
    for level, text in lines:
        kernel.log.printk(f"\001{level}{text}\n")
    bit = 1 << oops.TAINT_WARN
    if not kernel.tainted & bit:
        kernel.tainted |= bit
        kernel.event("taint", call.caller.name if call.caller else "", bit)


def warn(call, where: str, function: str, message: str, inner: list[str] | None = None,
         offset: str | None = None) -> None:
    """WARN(1, message): `where` is the kernel file and line, `function` the kernel function
    the WARN is in, `inner` the kernel frames between it and the module's call, `offset`
    the ud2's "+0x../0x.." in the function on Debian's kernel (a model value without it)."""
    _report(call, where, function, message.rstrip("\n"), inner or [], offset)


def warn_on(call, where: str, function: str, inner: list[str] | None = None,
            offset: str | None = None) -> None:
    _report(call, where, function, None, inner or [], offset)


def dump_stack(call, inner: list[str]) -> None:
    """lib/dump_stack.c: the CPU line, the hardware, the call trace down to the module."""
    kernel = call.kernel
    pid, comm = kernel.current
    mach = kernel.machine()
    lines = [(oops.KERN_DEFAULT, mach.cpu_line(pid, comm)),
             (oops.KERN_DEFAULT, f"Hardware name: {mach.hardware}")]
    frames = ["dump_stack_lvl+0x44/0x5c", *inner, call.site]
    lines += oops.call_trace(frames + oops._syscall_tail(comm))
    for level, text in lines:
        kernel.log.printk(f"\001{level}{text}\n")
