"""The kernel's own consistency checks that modules call out of line (lib/list_debug.c,
lib/string_helpers.c fortify).

Debian's 6.1 config sets CONFIG_DEBUG_LIST=y: every list_add/list_del in module code first
calls __list_add_valid/__list_del_entry_valid, which check the neighbours' pointers and
report a corruption (then refuse the operation) instead of following a bad pointer.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit

LIST_POISON1, LIST_POISON2 = 0xDEAD000000000100, 0xDEAD000000000122  # include/linux/poison.h


def _corruption(call, text: str) -> bool:
    """CHECK_DATA_CORRUPTION: the real kernel WARNs with `text` and the check fails. That
    WARNING report (registers inside __list_*_valid) is not modelled: one line says so."""
    raise SimulatorLimit(f"kcourse: {call.site}: {text} The real kernel prints a WARNING "
                         "here (lib/list_debug.c) and refuses the list operation; the "
                         "simulator stops. Run it with `kcourse sim --real`")


@function("bool __list_add_valid(struct list_head *new, struct list_head *prev, "
          "struct list_head *next)", "lib/list_debug.c")
def __list_add_valid(call, new, prev, next):
    space = call.machine.space
    if space.read_u64(next + 8) != prev:  # next->prev
        return _corruption(call, f"list_add corruption. next->prev should be prev "
                                 f"({prev:016x}), but was {space.read_u64(next + 8):016x}. "
                                 f"(next={next:016x}).")
    if space.read_u64(prev) != next:  # prev->next
        return _corruption(call, f"list_add corruption. prev->next should be next "
                                 f"({next:016x}), but was {space.read_u64(prev):016x}. "
                                 f"(prev={prev:016x}).")
    if new == prev or new == next:
        return _corruption(call, f"list_add double add: new={new:016x}, prev={prev:016x}, "
                                 f"next={next:016x}.")
    return True


@function("bool __list_del_entry_valid(struct list_head *entry)", "lib/list_debug.c")
def __list_del_entry_valid(call, entry):
    space = call.machine.space
    nxt, prev = space.read_u64(entry), space.read_u64(entry + 8)
    if nxt == LIST_POISON1:
        return _corruption(call, f"list_del corruption, {entry:016x}->next is LIST_POISON1 "
                                 f"({LIST_POISON1:016x})")
    if prev == LIST_POISON2:
        return _corruption(call, f"list_del corruption, {entry:016x}->prev is LIST_POISON2 "
                                 f"({LIST_POISON2:016x})")
    if space.read_u64(prev) != entry:
        return _corruption(call, f"list_del corruption. prev->next should be {entry:016x}, "
                                 f"but was {space.read_u64(prev):016x}. (prev={prev:016x})")
    if space.read_u64(nxt + 8) != entry:
        return _corruption(call, f"list_del corruption. next->prev should be {entry:016x}, "
                                 f"but was {space.read_u64(nxt + 8):016x}. (next={nxt:016x})")
    return True


@function("void fortify_panic(const char *name)", "lib/string_helpers.c")
def fortify_panic(call, name):
    """CONFIG_FORTIFY_SOURCE found a copy past its buffer (lib/string_helpers.c:1024-1028 in
    Debian's 6.1.192): pr_emerg("detected buffer overflow in %s\n", name); BUG(). The oops's
    RIP is this function's kapi slot (fortify_panic+0x0/0x10: the offsets are the model's)."""
    from kcourse.machine.bugs import BugEntry
    from kcourse.machine.machine import X86_TRAP_UD, ModuleFault

    text = (name or b"").decode("utf-8", "replace")
    call.kernel.log.printk(f"\0010detected buffer overflow in {text}\n")
    fault = ModuleFault(X86_TRAP_UD, call.machine.address_of("fortify_panic"), 0,
                        call.machine.cpu.registers())
    fault.bug = BugEntry(0, "lib/string_helpers.c", 1027, 0)
    raise fault
