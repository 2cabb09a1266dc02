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

# sh_type number -> the name readelf -S prints (PROGBITS, NOBITS, RELA, ...).
_SH_TYPE = {v: k.removeprefix("SHT_") for k, v in ENUM_SH_TYPE_BASE.items() if k != "_default_"}


def placements(ko_path) -> dict[int, str]:
    """Section index -> "core", "init" or "not loaded", as the simulated 6.1 loader lays the
    module out (kcourse.kernel.layout.compute, which follows kernel/module/main.c
    layout_sections and kallsyms.c layout_symtab): sections without SHF_ALLOC (and .modinfo,
    __versions, whose SHF_ALLOC rewrite_section_headers() clears) are never copied; ".init*"
    and the full .symtab/.strtab go to init memory, which do_init_module() frees once init()
    has returned 0; the rest stays until rmmod."""
    from kcourse.kernel.layout import compute
    from kcourse.ui.images import module_image

    image = module_image(ko_path)
    if image is None:
        return {}
    layout = compute(image)
    return {i: ("init" if p.init else "core") for i, p in layout.placements.items()}


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


def kernel_table(kernel=None):
    """The symbols a module can link against: Debian's exports (the shipped Module.symvers),
    plus, with a simulated kernel, the exports of the modules loaded in it."""
    from kcourse.elf.symvers import KernelSymbol, SymbolTable

    table = SymbolTable.shipped()
    if kernel is not None:
        loaded = SymbolTable([KernelSymbol(e.name, e.crc, m.name, e.gpl_only, e.namespace)
                              for m in kernel.modules for e in m.exports], "loaded modules")
        table = table.merged(loaded)
    return table


class ElfModel:
    """One .ko opened for exploring; `table` is a kcourse.elf.symvers.SymbolTable (default:
    kernel_table())."""

    def __init__(self, path: str | Path, table=None):
        self.ko = KoFile(path)
        self.table = table if table is not None else kernel_table()
        self._resolutions = {r.symbol: r for r in resolve_undefined(self.ko, self.table)}
        self._placements = placements(path)

    @property
    def title(self) -> str:
        ko = self.ko
        return (f"{Path(ko.path).name}: module {ko.name}, {len(ko.sections) - 1} sections, "
                f"{len(ko.symbols)} symbols, {len(ko.undefined_symbols)} undefined")

    def section_rows(self) -> list[list[str]]:
        """[nr, name, type, size, flags, fate] per section, as readelf -S numbers them."""
        rows = []
        for s in self.ko.sections[1:]:
            fate = FATE[self._placements.get(s.index, "not loaded")]
            rows.append([str(s.index), s.name, _SH_TYPE.get(s.type, hex(s.type)), str(s.size),
                         describe_sh_flags(s.flags), fate])
        return rows

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

    def modinfo_rows(self) -> list[list[str]]:
        return [[k, v] for k, v in self.ko.modinfo]
