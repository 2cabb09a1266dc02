"""register_kprobe and unregister_kprobe (kernel/kprobes.c, 6.1.192).

struct kprobe (include/linux/kprobes.h; 128 bytes, `pahole -C kprobe` of a module built
against the pinned headers): nmissed at 32, addr at 40, symbol_name at 48, offset at 56,
pre_handler at 64, post_handler at 72, flags at 120.

register_kprobe (kprobes.c:1624) as _kprobe_addr and check_kprobe_address_safe decide:
symbol_name and addr both set, or neither, is -EINVAL; the symbol is found as
kallsyms_lookup_name finds it (kcourse.kapi.kallsyms); addr becomes symbol + offset; the
flags keep only KPROBE_FLAG_DISABLED, nmissed is 0. A probe at a kernel function's entry
sits on its ftrace site (Debian builds with CONFIG_KPROBES_ON_FTRACE and every function
starts with the 5-byte `call __fentry__`, no IBT): KPROBE_FLAG_FTRACE | ON_FUNC_ENTRY;
an offset inside those 5 bytes is not an instruction boundary, -EILSEQ (prepare_kprobe:
can_probe). Registering a probe again is WARN_ON_ONCE and -EINVAL (warn_kprobe_rereg); a data
symbol is not kernel text, -EINVAL (check_kprobe_address_safe).
unregister_kprobe disables it (KPROBE_FLAG_DISABLED) and keeps addr. The guest answers the
same (tests/data/input/kprobeprobe).

Not modelled, each said in one line: a probe with a pre or post handler (nothing runs
it here), a probe further into a kernel function (its instructions are Python), and one
on module code or at an address rather than a symbol.
"""

from __future__ import annotations

from kcourse.kapi import kallsyms, kwarn
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.machine import cpu as C

NMISSED, ADDR, SYMBOL_NAME, OFFSET, PRE, POST, FLAGS = 32, 40, 48, 56, 64, 72, 120
LIST = 16
KPROBE_FLAG_DISABLED, KPROBE_FLAG_FTRACE, KPROBE_FLAG_ON_FUNC_ENTRY = 2, 8, 16
MCOUNT_INSN_SIZE = 5  # arch/x86/include/asm/ftrace.h
EINVAL, ENOENT, EILSEQ = 22, 2, 84


def _registered(machine) -> set[int]:
    return machine.objects.setdefault("kprobes", set())  # struct kprobe addresses


def _u64(call, at: int) -> int:
    return call.machine.space.read_u64(at)


def _u32(call, at: int) -> int:
    return int.from_bytes(call.machine.space.read(at, 4), "little")


def _set_u32(call, at: int, value: int) -> None:
    call.machine.space.write(at, value.to_bytes(4, "little"))


def _in_kernel_text(address: int) -> bool:
    return C.KAPI_TEXT <= address < C.KAPI_TEXT + 0x10_0000


@function("int register_kprobe(struct kprobe *p)", "kernel/kprobes.c")
def register_kprobe(call, p):
    space = call.machine.space
    addr, symbol = _u64(call, p + ADDR), _u64(call, p + SYMBOL_NAME)
    offset = _u32(call, p + OFFSET)
    if bool(addr) == bool(symbol):
        return -EINVAL
    if not symbol:
        raise limit(f"kcourse: {call.site} registers a kprobe at an address rather than a "
                    "symbol, which the simulator does not model")
    name = space.read_cstring(symbol).decode("utf-8", "surrogateescape")
    start = kallsyms.lookup(call, name)
    space.write_u64(p + ADDR, start + offset)
    if p in _registered(call.machine):  # warn_kprobe_rereg: WARN_ON_ONCE
        if not call.machine.objects.get("kprobes_warned"):
            call.machine.objects["kprobes_warned"] = True
            kwarn.warn_on(call, "kernel/kprobes.c:1532", "register_kprobe")
        return -EINVAL
    _set_u32(call, p + FLAGS, _u32(call, p + FLAGS) & KPROBE_FLAG_DISABLED)
    space.write_u64(p + NMISSED, 0)
    space.write_u64(p + LIST, p + LIST)  # INIT_LIST_HEAD(&p->list)
    space.write_u64(p + LIST + 8, p + LIST)
    if not _in_kernel_text(start):  # data (jiffies, sys_call_table): not core_kernel_text
        return -EINVAL
    if 0 < offset < MCOUNT_INSN_SIZE:
        return -EILSEQ
    if offset:
        raise limit(f"kcourse: {call.site} registers a kprobe at {name}+{offset:#x}, inside "
                    "a kernel function, which the simulator does not model")
    if _u64(call, p + PRE) or _u64(call, p + POST):
        raise limit(f"kcourse: {call.site} registers a kprobe with a handler on {name}; "
                    "the simulator does not run kprobe handlers")
    _set_u32(call, p + FLAGS, _u32(call, p + FLAGS) | KPROBE_FLAG_FTRACE |
             KPROBE_FLAG_ON_FUNC_ENTRY)
    _registered(call.machine).add(p)
    return 0


@function("void unregister_kprobe(struct kprobe *p)", "kernel/kprobes.c")
def unregister_kprobe(call, p):
    probes = _registered(call.machine)
    if p in probes:  # __unregister_kprobe_top: __disable_kprobe
        probes.discard(p)
        _set_u32(call, p + FLAGS, _u32(call, p + FLAGS) | KPROBE_FLAG_DISABLED)
