"""Relocations of a module's allocated sections, as arch/x86/kernel/module.c (6.1) applies them.

kernel/module/main.c apply_relocations() walks every SHT_RELA section whose target section is
SHF_ALLOC (after rewrite_section_headers cleared it from .modinfo and __versions) and calls
apply_relocate_add(), which for x86-64 is __apply_relocate_add():

    loc = target section's address + r_offset
    val = sym->st_value + r_addend      (simplify_symbols already made st_value absolute)
    R_X86_64_NONE            nothing
    R_X86_64_64              8 bytes of val
    R_X86_64_32              4 bytes; val must fit in u32, else "overflow in relocation type"
    R_X86_64_32S             4 bytes; val must sign-extend from s32, else the same overflow
    R_X86_64_PC32, _PLT32    4 bytes of val - loc (the overflow check there is under #if 0)
    R_X86_64_PC64            8 bytes of val - loc
    other                    "<mod>: Unknown rela relocation: <type>", -ENOEXEC

and refuses a target that is not zero ("x86/modules: Invalid relocation target, existing value
is nonzero for type %d, loc %p, val %Lx"). The messages here are the kernel's.

The kernel trusts r_offset; a hostile .ko could write anywhere. Here a location outside its
section is refused with one line, since what the real kernel does then is undefined.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from kcourse.elf import elf64

R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_32 = 0, 1, 2, 10
R_X86_64_32S, R_X86_64_PLT32, R_X86_64_PC64 = 11, 4, 24
MASK64 = (1 << 64) - 1


class RelocationError(Exception):
    """The kernel refuses the module (-ENOEXEC); `lines` are the pr_err lines it prints."""

    def __init__(self, *lines: str):
        super().__init__(lines[0])
        self.lines = lines


def apply_relocations(modname: str, elf: bytes, sections, contents: dict[int, bytearray],
                      addresses: dict[int, int], symbol_value: Callable[[int], int]) -> None:
    """Patch `contents` (section index -> its bytes, about to be copied to `addresses`).

    symbol_value(i) is symbol i's st_value after simplify_symbols (an absolute address)."""
    for sec in sections:
        if sec.type != elf64.SHT_RELA:
            continue
        target = sec.info
        if target >= len(sections) or target not in contents:
            continue  # "Not a valid relocation section?" / not allocated: not applied
        data = elf64.section_bytes(elf, sec)
        count = len(data) // elf64.RELA.size
        buf, base = contents[target], addresses[target]
        for r_offset, r_info, r_addend in elf64.RELA.iter_unpack(
                data[: count * elf64.RELA.size]):
            _apply_one(modname, buf, base, r_offset, r_info, r_addend, symbol_value,
                       sections[target].name)


def _apply_one(modname, buf: bytearray, base: int, r_offset: int, r_info: int, r_addend: int,
               symbol_value, section_name: str) -> None:
    rtype = r_info & 0xFFFFFFFF
    if rtype == R_X86_64_NONE:
        return
    loc = (base + r_offset) & MASK64
    val = (symbol_value(r_info >> 32) + r_addend) & MASK64
    if rtype == R_X86_64_64:
        size = 8
    elif rtype == R_X86_64_32:
        if val > 0xFFFFFFFF:
            raise _overflow(modname, rtype, val)
        size = 4
    elif rtype == R_X86_64_32S:
        signed = val - (1 << 64) if val >> 63 else val
        if not -(1 << 31) <= signed < (1 << 31):
            raise _overflow(modname, rtype, val)
        size = 4
    elif rtype in (R_X86_64_PC32, R_X86_64_PLT32):
        val = (val - loc) & MASK64
        size = 4
    elif rtype == R_X86_64_PC64:
        val = (val - loc) & MASK64
        size = 8
    else:
        raise RelocationError(f"{modname}: Unknown rela relocation: {rtype}")
    if r_offset + size > len(buf):
        raise RelocationError(f"kcourse: {modname}: relocation at {section_name}+{r_offset:#x} "
                              f"lies outside the section ({len(buf)} bytes); the real kernel "
                              "would write outside the module")
    if any(buf[r_offset:r_offset + size]):
        raise RelocationError(
            f"x86/modules: Invalid relocation target, existing value is nonzero for type "
            f"{rtype}, loc {loc:016x}, val {val:x}")
    buf[r_offset:r_offset + size] = (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _overflow(modname: str, rtype: int, val: int) -> RelocationError:
    return RelocationError(f"overflow in relocation type {rtype} val {val:x}",
                           f"`{modname}' likely not compiled with -mcmodel=kernel")


def pack_u64(value: int) -> bytes:
    return struct.pack("<Q", value & MASK64)
