"""WARN()'s message and the refcount_t saturation warnings (kernel/panic.c, lib/refcount.c).

WARN(cond, fmt, ...) in a module is __warn_printk(fmt, ...) followed by its own ud2, whose
__bug_table entry (BUGFLAG_WARNING | BUGFLAG_NO_CUT_HERE) makes report_bug print the
WARNING line, registers and trace (kcourse.machine.bugs). __warn_printk prints the "cut
here" line at KERN_WARNING, then the message through vprintk (its own level if it has one,
else the default).

refcount_warn_saturate(r, t) sets the count to REFCOUNT_SATURATED (INT_MIN / 2) and gives
one WARN_ONCE per saturation type: "refcount_t: <what>." from lib/refcount.c's line for it.
Each fires once per boot (its .data.once flag).
"""

from __future__ import annotations

from kcourse.kapi import kwarn, printk
from kcourse.kapi.registry import function
from kcourse.kernel import oops

REFCOUNT_SATURATED = 0xC000_0000  # INT_MIN / 2 (include/linux/refcount.h)
# enum refcount_saturation_type -> (line in lib/refcount.c, REFCOUNT_WARN text)
SATURATION = {0: (19, "saturated; leaking memory"), 1: (22, "saturated; leaking memory"),
              2: (25, "addition on 0; use-after-free"), 3: (28, "underflow; use-after-free"),
              4: (31, "decrement hit 0; leaking memory")}
UNKNOWN = (34, "unknown saturation event!?")
# where Debian's refcount_warn_saturate has each WARN's ud2 (tests/data/kapi4/warnprobe)
OFFSETS = {25: "+0x97/0x110", 28: "+0xba/0x110", 31: "+0xfb/0x110"}


@function("void __warn_printk(const char *fmt, ...)", "kernel/panic.c")
def __warn_printk(call, fmt):
    call.kernel.log.printk(f"\001{oops.KERN_WARNING}{oops.CUT_HERE}\n")
    printk._printk(call, fmt)


@function("void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)",
          "lib/refcount.c")
def refcount_warn_saturate(call, r, t):
    call.machine.space.write(r, REFCOUNT_SATURATED.to_bytes(4, "little"))
    line, text = SATURATION.get(t & 0xFFFF_FFFF, UNKNOWN)
    fired = call.machine.objects.setdefault("refcount_warned", set())
    if line in fired:
        return
    fired.add(line)
    kwarn.warn(call, f"lib/refcount.c:{line}", "refcount_warn_saturate",
               f"refcount_t: {text}.", offset=OFFSETS.get(line))
