"""pv_ops: the paravirt call table (arch/x86/kernel/paravirt.c), as native hardware fills it.

Debian's 6.1 is built with CONFIG_PARAVIRT_XXL (for Xen PV guests), so read_cr0() and friends
are `call *pv_ops+N(%rip)` in module code (arch/x86/include/asm/paravirt.h: PVOP_CALL0 of
cpu.read_cr0). On bare metal and under QEMU the table holds the native functions
(paravirt.c: `.cpu.read_cr0 = native_read_cr0`, ...). Here each of its pointers is a kapi slot:
those modelled run their native code's model, the others stop with one line naming the
member (`pv_ops.cpu.write_cr4`). The layout (struct paravirt_patch_template, 672 bytes) comes
from the pinned kernel's BTF.
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kernel import structs as S

TEMPLATE = "paravirt_patch_template"
# pv_ops' members that kapi models, and the native function each points to (paravirt.c)
NATIVE = {"cpu.read_cr0": "native_read_cr0"}


@data("struct paravirt_patch_template pv_ops", "arch/x86/kernel/paravirt.c",
      S.sizeof(TEMPLATE))
def pv_ops(machine, address):
    table = bytearray(S.sizeof(TEMPLATE))
    for group, offset, _size in S.members(TEMPLATE):
        kind = S.member(TEMPLATE, group).type.removeprefix("struct ")
        for member, at, size in S.members(kind):
            if size != 8:
                continue
            name = f"{group}.{member}"
            slot = machine.address_of(NATIVE.get(name, f"pv_ops.{name}"))
            table[offset + at:offset + at + 8] = slot.to_bytes(8, "little")
    return bytes(table)


@function("unsigned long native_read_cr0(void)", "arch/x86/include/asm/special_insns.h")
def native_read_cr0(call):
    """`mov %cr0,%rax`: CR0 as the CPU holds it (WP as the module last set it)."""
    cpu = call.machine.cpu
    return cpu.uc.reg_read(cpu.x86.UC_X86_REG_CR0)
