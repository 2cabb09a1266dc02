"""What the ELF explorer shows, as plain rows: sections, symbols (undefined ones resolved
against the kernel's exports) and .modinfo. No widgets here; ElfExplorer only draws these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.descriptions import describe_sh_flags
from elftools.elf.enums import ENUM_SH_TYPE_BASE

from kcourse.elf.kofile import KoFile
from kcourse.elf.resolve import resolve_undefined

SHF_ALLOC = 0x2
# sh_type number -> the name readelf -S prints (PROGBITS, NOBITS, RELA, ...).
_SH_TYPE = {v: k.removeprefix("SHT_") for k, v in ENUM_SH_TYPE_BASE.items() if k != "_default_"}


def placement(name: str, flags: int) -> str:
    """Where the 6.1 loader puts a section, and so whether it is freed after init.

    - "not loaded": no SHF_ALLOC; layout_sections() skips it, so it lives only in the
      temporary copy of the file that load_module() frees (kernel/module/main.c:
      layout_sections masks all require SHF_ALLOC). rewrite_section_headers() clears
      SHF_ALLOC of .modinfo and __versions ("Don't need them in module").
    - "init": module_init_layout_section(): names starting with ".init"; do_init_module()
      frees that memory once init() returned 0. layout_symtab() also puts .symtab and
      .strtab at the end of the init part (a core copy keeps only the symbols kallsyms
      needs). .exit* stays in core because Debian has CONFIG_MODULE_UNLOAD=y.
    - "core": everything else allocated; it stays until rmmod.
    """
    if name in (".symtab", ".strtab"):
        return "init"
    if name in (".modinfo", "__versions") or not flags & SHF_ALLOC:
        return "not loaded"
    if name.startswith(".init"):
        return "init"
    return "core"


FATE = {
    "core": "kept until rmmod",
    "init": "freed after init",
    "not loaded": "not loaded",
}


@dataclass(frozen=True)
class SymbolRow:
    index: int
    name: str
    type: str
    bind: str
    section: str  # section name, or UND / ABS / COM
    size: int
    status: str  # "" for defined symbols; for undefined: "resolved (owner)" or the outcome


class ElfModel:
    """One .ko opened for exploring; `table` is a kcourse.elf.symvers.SymbolTable."""

    def __init__(self, path: str | Path, table=None):
        self.ko = KoFile(path)
        if table is None:
            from kcourse.elf.symvers import SymbolTable

            table = SymbolTable.shipped()
        self.table = table
        self._resolutions = {r.symbol: r for r in resolve_undefined(self.ko, table)}

    @property
    def title(self) -> str:
        ko = self.ko
        return (f"{Path(ko.path).name}: module {ko.name}, {len(ko.sections) - 1} sections, "
                f"{len(ko.symbols)} symbols, {len(ko.undefined_symbols)} undefined")

    def section_rows(self) -> list[list[str]]:
        """[nr, name, type, size, flags, fate] per section, as readelf -S numbers them."""
        rows = []
        for s in self.ko.sections[1:]:
            fate = FATE[placement(s.name, s.flags)]
            rows.append([str(s.index), s.name, _SH_TYPE.get(s.type, hex(s.type)), str(s.size),
                         describe_sh_flags(s.flags), fate])
        return rows

    def freed_after_init(self) -> list[str]:
        return [s.name for s in self.ko.sections[1:] if placement(s.name, s.flags) == "init"]

    def symbols(self) -> list[SymbolRow]:
        rows = []
        for sym in self.ko.symbols:
            if not sym.name or sym.type in ("SECTION", "FILE"):
                continue
            status = ""
            if sym.shndx == 0:
                section = "UND"
                res = self._resolutions.get(sym.name)
                if res is None:
                    status = "unresolved: not_found"
                elif res.ok:
                    status = f"resolved ({res.owner})" if res.owner else "unresolved (weak)"
                else:
                    status = f"unresolved: {res.outcome}"
            else:
                section = {0xFFF1: "ABS", 0xFFF2: "COM"}.get(sym.shndx, sym.section or "?")
            rows.append(SymbolRow(sym.index, sym.name, sym.type, sym.bind, section, sym.size,
                                  status))
        return rows

    def symbol_rows(self, which: str = "all") -> list[list[str]]:
        """Rows for the table; `which` is "all", "undefined" or "defined"."""
        out = []
        for r in self.symbols():
            undefined = r.section == "UND"
            if which == "undefined" and not undefined or which == "defined" and undefined:
                continue
            out.append([str(r.index), r.name, r.type, r.bind, r.section, str(r.size), r.status])
        return out

    def unresolved(self) -> list[str]:
        return [r.symbol for r in self._resolutions.values() if not r.ok]

    def modinfo_rows(self) -> list[list[str]]:
        return [[k, v] for k, v in self.ko.modinfo]
