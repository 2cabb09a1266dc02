"""pr_debug and dev_dbg under CONFIG_DYNAMIC_DEBUG: __dynamic_pr_debug, __dynamic_dev_dbg
(lib/dynamic_debug.c).

Whether a call site prints is decided at the call site, not here: each pr_debug/dev_dbg is a
struct _ddebug descriptor in __dyndbg and a jump label (DYNAMIC_DEBUG_BRANCH,
include/linux/dynamic_debug.h). Without DEBUG the descriptor's flags are 0 and the compiled
branch skips the call; with DEBUG they are _DPRINTK_FLAGS_PRINT and the call is made. The
simulator runs that code as compiled, which is the descriptors' state at load: it has no
<debugfs>/dynamic_debug/control nor dyndbg= parameters to change them. Once called, the
function prints, at KERN_DEBUG, after the prefix the descriptor's m/f/l/t flags ask for
(__dynamic_emit_prefix). Both stop the module (BUG_ON) for a NULL descriptor or format.
"""

from __future__ import annotations

from kcourse.kapi import dev_printk, printk
from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit

# struct _ddebug (include/linux/dynamic_debug.h): four pointers, then the bit fields
# lineno:18, class_id:6, flags:8 in one unsigned int
MODNAME, FUNCTION, LINE_BITS = 0, 8, 32
_DPRINTK_FLAGS_INCL_MODNAME, _DPRINTK_FLAGS_INCL_FUNCNAME = 1 << 1, 1 << 2
_DPRINTK_FLAGS_INCL_LINENO, _DPRINTK_FLAGS_INCL_TID = 1 << 3, 1 << 4
_DPRINTK_FLAGS_INCL_ANY = 0x1E
PREFIX_SIZE = 64  # lib/dynamic_debug.c


def _bug_on(call, descriptor: int, fmt: int) -> None:
    if not descriptor or not fmt:
        raise SimulatorLimit(f"kcourse: {call.site} passes a NULL "
                             f"{'descriptor' if not descriptor else 'format'}: the real "
                             "kernel's BUG_ON in lib/dynamic_debug.c stops it with an oops "
                             "(invalid opcode), which kcourse does not print for this check")


def emit_prefix(call, descriptor: int) -> str:
    """dynamic_emit_prefix: "[pid] " or "<intr> ", then "mod:func:line: " as flagged."""
    space = call.machine.space
    bits = int.from_bytes(space.read(descriptor + LINE_BITS, 4), "little")
    flags, lineno = bits >> 24, bits & ((1 << 18) - 1)
    if not flags & _DPRINTK_FLAGS_INCL_ANY:
        return ""
    out = ""
    if flags & _DPRINTK_FLAGS_INCL_TID:
        from kcourse.machine import scheduler

        if scheduler.of(call.machine).in_interrupt():
            out += "<intr> "
        else:
            out += f"[{call.kernel.current[0]}] "
    tid = len(out)
    if flags & _DPRINTK_FLAGS_INCL_MODNAME:
        out += dev_printk.c_string(call, space.read_u64(descriptor + MODNAME)) + ":"
    if flags & _DPRINTK_FLAGS_INCL_FUNCNAME:
        out += dev_printk.c_string(call, space.read_u64(descriptor + FUNCTION)) + ":"
    if flags & _DPRINTK_FLAGS_INCL_LINENO:
        out += f"{lineno}:"
    if len(out) > tid:
        out += " "
    return out[:PREFIX_SIZE - 1]


@function("void __dynamic_pr_debug(struct _ddebug *descriptor, const char *fmt, ...)",
          "lib/dynamic_debug.c")
def __dynamic_pr_debug(call, descriptor, fmt):
    _bug_on(call, descriptor, call.raw(1))
    prefix = emit_prefix(call, descriptor)
    text = bytes(printk.format_call(call, fmt, printk.LOG_BUFFER))
    call.kernel.log.printk(f"\0017{prefix}{text.decode('utf-8', 'surrogateescape')}")


@function("void __dynamic_dev_dbg(struct _ddebug *descriptor, const struct device *dev, "
          "const char *fmt, ...)", "lib/dynamic_debug.c")
def __dynamic_dev_dbg(call, descriptor, dev, fmt):
    _bug_on(call, descriptor, call.raw(2))
    prefix = emit_prefix(call, descriptor) if dev else ""
    dev_printk.emit(call, dev_printk.LOGLEVEL_DEBUG, dev, prefix)
