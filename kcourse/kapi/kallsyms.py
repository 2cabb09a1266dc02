"""kallsyms_lookup_name (kernel/kallsyms.c) and the sys_call_table it finds (6.1).

kallsyms_lookup_name is not exported since 5.7: a module reaches it through a kprobe's
address (kcourse.kapi.kprobes), as LKMPG's syscall-steal does. The simulator knows the
symbols it models (kapi's functions and data, which sit where modules calling them are
bound), the system calls' entry points (__x64_sys_*) and sys_call_table; for any other
name it stops with one line rather than answer 0 for a symbol the real kernel has.

sys_call_table is `const sys_call_ptr_t sys_call_table[]` (arch/x86/entry/syscall_64.c):
.rodata, read-only once the kernel has booted (mark_rodata_ro), at its address on the lab's
kernel (/proc/kallsyms: ffffffff82000360 D sys_call_table; no KASLR). Its 451 entries are
data/kernel/syscalls_64.h, the table the pinned headers generate (scripts/syscalltbl.sh: the
numbers no ABI uses are sys_ni_syscall), each pointing at a kapi slot named for its
__x64_sys_ stub: calling one stops with one line. A module that clears CR0.WP can write it.
Nothing reads it: on 6.1.192 a system call dispatches through the switch in x64_sys_call
(arch/x86/entry/syscall_64.c, called from do_syscall_x64 in arch/x86/entry/common.c), and
"The sys_call_table[] is no longer used for system calls" (the comment above it). So, as on
the lab's kernel, a pointer a module stores there is never called by the shell's system
calls.
"""

from __future__ import annotations

import re

from kcourse.kapi.registry import DATA, FUNCTIONS, function
from kcourse.kapi.vfsfile import limit

SYS_CALL_TABLE = 0xFFFF_FFFF_8200_0360
_ENTRY = re.compile(r"__SYSCALL\((\d+), (\w+)\)")


def syscalls() -> list[str]:
    """The table's entry points in order: __x64_sys_read, __x64_sys_write, ..."""
    from kcourse.paths import kernel_data_dir

    text = (kernel_data_dir() / "syscalls_64.h").read_text()
    return [f"__x64_{name}" for _nr, name in _ENTRY.findall(text)]  # 0, 1, ... in order


def sys_call_table(machine) -> int:
    """The table in emulated memory, made on first use."""
    if "sys_call_table" not in machine.objects:
        names = syscalls()
        machine.space.map(SYS_CALL_TABLE, 8 * len(names))
        machine.space.write(SYS_CALL_TABLE, b"".join(
            machine.address_of(name).to_bytes(8, "little") for name in names))
        machine.space.protect(SYS_CALL_TABLE, 8 * len(names), writable=False)
        machine.objects["sys_call_table"] = names
    return SYS_CALL_TABLE


def lookup(call, name: str) -> int:
    machine = call.machine
    if name == "sys_call_table":
        return sys_call_table(machine)
    if name in FUNCTIONS or name in DATA or name in _entry_points(machine):
        return machine.address_of(name)
    raise limit(f"kcourse: {call.site} looks up the kernel symbol {name!r}, which the "
                "simulator does not model")


def _entry_points(machine) -> set[str]:
    got = machine.objects.get("syscall_entry_points")
    if got is None:
        got = machine.objects["syscall_entry_points"] = set(syscalls())
    return got


@function("unsigned long kallsyms_lookup_name(const char *name)", "kernel/kallsyms.c")
def kallsyms_lookup_name(call, name):
    return lookup(call, (name or b"").decode("utf-8", "surrogateescape"))
