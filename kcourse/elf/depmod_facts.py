"""What depmod reads from a module file: the symbols it exports, the symbols it needs, .modinfo.

Read as kmod 30's libkmod-elf.c reads them (kmod_elf_get_symbols,
kmod_elf_get_dependency_symbols, kmod_elf_get_strings). facts_from_image reads any ELF image
already in memory (a KoFile, a decompressed .ko.xz), validated by kcourse.elf.elf64 first, so
a hostile file is one KoFormatError; kcourse.elf.depmod_scan is the fast path over a whole
tree of plain .ko files, and gives the same dependencies (DepmodScan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kcourse.elf.modinfo_read import split_modinfo

_CRC = re.compile(rb"__crc_")                       # CONFIG_MODVERSIONS: __crc_<symbol>


@dataclass
class ModuleFacts:
    """What depmod reads from one module file."""

    exports: list[str]                 # symbols it provides (kmod_elf_get_symbols order)
    dep_symbols: list[tuple[str, bool]]  # (symbol, weak) it needs, in kmod's order
    info: list[tuple[str, str]]        # .modinfo key/value pairs in section order

    @property
    def dep_names(self) -> list[str]:
        return [name for name, _weak in self.dep_symbols]

    @property
    def aliases(self) -> list[str]:
        return [value for key, value in self.info if key == "alias"]

    @property
    def softdeps(self) -> list[str]:
        return [value for key, value in self.info if key == "softdep"]


class DepmodScan:
    """scan_file's answer: only what `depmod` uses, in a form that is cheap to build.

    exports: as ModuleFacts.exports, in string-table order (depmod only hashes them).
    dep_names: as ModuleFacts.dep_names (the weak flags, which depmod does not use, left out).
    aliases, softdeps: the values of the .modinfo items depmod writes out, in order."""

    __slots__ = ("exports", "dep_names", "aliases", "softdeps")

    def __init__(self, exports: list[str], dep_names: list[str], aliases: list[str],
                 softdeps: list[str]):
        self.exports, self.dep_names, self.aliases, self.softdeps = (exports, dep_names,
                                                                      aliases, softdeps)


def _first_named(rows: list[tuple], names: bytes, name: bytes) -> tuple | None:
    """The first section called `name` (names may share a tail: `__versions` can be the end
    of `.rela__versions`, so the match is on the string at each sh_name)."""
    wanted = name + b"\0"
    return next((row for row in rows if names.startswith(wanted, row[0])), None)


def facts_from_image(path, raw: bytes) -> ModuleFacts:
    """Read an ELF image as libkmod-elf.c does, touching only what depmod needs: the symbol
    table (kmod_elf_get_symbols, kmod_elf_get_dependency_symbols), __versions, .modinfo.

    The symbol table is read column-wise (a memoryview of its 24-byte Elf64_Sym entries), so
    only the symbols depmod keeps are decoded: `__crc_*` (exports, with CONFIG_MODVERSIONS)
    and the undefined ones (SHN_UNDEF), each list in symbol-table order."""
    from kcourse.elf import elf64

    rows, names = elf64.section_rows(path, raw, elf64.parse_header(path, raw))
    exports: list[str] = []
    deps: list[tuple[str, bool]] = []
    symtab = next((row for row in rows if row[1] == elf64.SHT_SYMTAB), None)
    if symtab is not None:
        strtab = elf64.row_bytes(raw, rows[symtab[6]])
        data = elf64.row_bytes(raw, symtab)
        count = len(data) // 24
        table = memoryview(data[: count * 24])
        st_name = table.cast("I")[::6].tolist()
        st_shndx = table.cast("H")[3::12].tolist()
        st_info = data[4 : count * 24 : 24]
        limit = len(strtab)
        crc_at = {m.start() for m in _CRC.finditer(strtab)}

        def text(start: int) -> str:
            end = strtab.find(b"\0", start)
            return strtab[start : end if end >= 0 else limit].decode("utf-8", "surrogateescape")

        # index 0 is the null symbol; a name 0 or outside .strtab is skipped (libkmod-elf.c)
        exports = [text(n + 6) for n in st_name[1:] if n and n in crc_at]
        deps = [(text(n), st_info[i] >> 4 == 2)                      # STB_WEAK
                for i, n in enumerate(st_name) if st_shndx[i] == 0 and i and 0 < n < limit
                and n not in crc_at]
    if not exports:
        # no __crc_ symbols (no CONFIG_MODVERSIONS): kmod_elf_get_symbols_symtab
        ksymtab = _first_named(rows, names, b"__ksymtab_strings")
        if ksymtab is not None:
            exports = [s.decode("utf-8", "surrogateescape")
                       for s in elf64.row_bytes(raw, ksymtab).split(b"\0") if s]
    versions = _first_named(rows, names, b"__versions")
    if versions is not None:  # module_layout: needed, though no symbol names it
        named = {name for name, _ in deps}
        table = elf64.row_bytes(raw, versions)
        for start in range(0, len(table) // 64 * 64, 64):            # struct modversion_info
            sym = table[start + 8 : start + 64].split(b"\0", 1)[0].decode(
                "utf-8", "surrogateescape")
            if sym not in named:
                named.add(sym)
                deps.append((sym, False))
    modinfo = _first_named(rows, names, b".modinfo")
    info = []
    for item in split_modinfo(elf64.row_bytes(raw, modinfo) if modinfo else b""):
        key, _, value = item.partition(b"=")
        info.append((key.decode("utf-8", "surrogateescape"),
                     value.decode("utf-8", "surrogateescape")))
    return ModuleFacts(exports, deps, info)
