"""The kernel's own export table, read from a vmlinux ELF: every exported symbol's address.

Debian's vmlinux (unpacked from vmlinuz, kcourse.lab.vmlinux) is stripped: it has no .symtab,
and its System.map is a placeholder. But the table the module loader resolves against is
in the image itself (include/asm-generic/vmlinux.lds.h, "Kernel symbol table"):

  __ksymtab, __ksymtab_gpl   struct kernel_symbol entries, sorted by name (SORT(___ksymtab+*))
  __kcrctab, __kcrctab_gpl   one u32 CRC per entry, in the same order
                             (include/linux/export-internal.h: SYMBOL_CRC)
  __ksymtab_strings          the names and namespaces

With CONFIG_HAVE_ARCH_PREL32_RELOCATIONS (x86-64) an entry is three place-relative ints
(include/linux/export.h: `struct kernel_symbol { int value_offset; int name_offset; int
namespace_offset; }`), and the loader reads a value as `offset_to_ptr(&sym->value_offset)`
(kernel/module/internal.h: kernel_symbol_value). Per-CPU variables (EXPORT_PER_CPU_SYMBOL)
live in .data..percpu, which x86-64 links at address 0, so their value is the per-CPU
offset that `%gs:sym` code uses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kcourse.elf import elf64
from kcourse.errors import KoFormatError

ENTRY = struct.Struct("<iii")  # struct kernel_symbol (PREL32 form), 12 bytes
TABLES = (("__ksymtab", "__kcrctab", "EXPORT_SYMBOL"),
          ("__ksymtab_gpl", "__kcrctab_gpl", "EXPORT_SYMBOL_GPL"))
PERCPU_SECTION = ".data..percpu"


@dataclass(frozen=True)
class Export:
    name: str
    address: int  # for a per-CPU variable: its offset in the per-CPU area
    section: str  # the vmlinux section the address falls in ('' if none)
    export_type: str  # EXPORT_SYMBOL or EXPORT_SYMBOL_GPL (Module.symvers' column 4)
    crc: int | None  # from __kcrctab; None when the kernel has no MODVERSIONS
    namespace: str

    @property
    def percpu(self) -> bool:
        return self.section == PERCPU_SECTION


def _place_relative(place: int, offset: int) -> int:
    """offset_to_ptr (include/linux/compiler.h): the place plus the offset, in 64 bits."""
    return (place + offset) & 0xFFFF_FFFF_FFFF_FFFF


def read_exports(path, raw: bytes) -> dict[str, Export]:
    """name -> Export for every symbol vmlinux exports, from its __ksymtab sections."""
    header = elf64.parse_header(path, raw)
    sections = {s.name: s for s in elf64.parse_sections(path, raw, header) if s.name}
    if "__ksymtab" not in sections or "__ksymtab_strings" not in sections:
        raise KoFormatError(f"{path}: no __ksymtab and __ksymtab_strings sections "
                            "(not a vmlinux with exports)")
    strings = sections["__ksymtab_strings"]
    text = elf64.section_bytes(raw, strings)
    by_address = sorted((s.addr, s.addr + s.size, s.name) for s in sections.values()
                        if s.flags & elf64.SHF_ALLOC and s.size)

    def where(address: int) -> str:
        for start, end, name in by_address:
            if start <= address < end:
                return name
        return ""

    def string_at(address: int) -> str:
        if not strings.addr <= address < strings.addr + strings.size:
            raise KoFormatError(f"{path}: a __ksymtab name points outside __ksymtab_strings")
        return elf64.cstr(text, address - strings.addr)

    exports: dict[str, Export] = {}
    for table, crc_table, export_type in TABLES:
        if table not in sections:
            continue
        section = sections[table]
        entries = elf64.section_bytes(raw, section)
        if len(entries) % ENTRY.size:
            raise KoFormatError(f"{path}: {table} is not a whole number of entries")
        count = len(entries) // ENTRY.size
        crcs = None
        if crc_table in sections:
            crc_bytes = elf64.section_bytes(raw, sections[crc_table])
            if len(crc_bytes) != 4 * count:
                raise KoFormatError(f"{path}: {crc_table} does not match {table} entry for entry")
            crcs = struct.unpack(f"<{count}I", crc_bytes)
        for index, (value, name, namespace) in enumerate(ENTRY.iter_unpack(entries)):
            place = section.addr + index * ENTRY.size
            address = _place_relative(place, value)
            symbol = string_at(_place_relative(place + 4, name))
            space = string_at(_place_relative(place + 8, namespace)) if namespace else ""
            exports[symbol] = Export(symbol, address, where(address), export_type,
                                     crcs[index] if crcs else None, space)
    return exports
