"""What depmod reads from a module file: the symbols it exports, the symbols it needs, .modinfo.

Read as kmod 30's libkmod-elf.c reads them (kmod_elf_get_symbols,
kmod_elf_get_dependency_symbols, kmod_elf_get_strings), in two ways that give the same facts:

- facts_from_image: any ELF image already in memory (a KoFile, a decompressed .ko.xz),
  validated by kcourse.elf.elf64 first, so a hostile file is one KoFormatError.
- scan_file: the fast path `kcourse depmod` takes over a whole tree. A handful of os.pread
  calls per file fetch only the ELF header, the section headers, .shstrtab, the symbol and
  string tables, __versions and .modinfo (kmod mmaps the file and touches the same pages);
  columns of the symbol table are picked out with memoryview casts and byte slices, so no
  Python object is made per symbol, only per name depmod keeps. Anything unusual (a
  compressed file, extended section numbering, a section past the end of the file, non-ASCII
  names it cannot slice safely) returns None and the caller takes the validated path.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import add, sub

from kcourse.elf.modinfo_read import split_modinfo

_EHDR = struct.Struct("<4sBB10xHHIQQQIHHHHHH")    # Elf64_Ehdr (include/uapi/linux/elf.h)
_SHT_SYMTAB, _SHT_NOBITS = 2, 8
_CRC = re.compile(rb"__crc_")                       # CONFIG_MODVERSIONS: __crc_<symbol>
_NAME_RUNS = re.compile(r"[^\x00]+")
# the .modinfo items depmod writes out: alias=... (modules.alias, .devname), softdep=...
_ALIAS_ITEMS = re.compile(rb"\x00alias(?:=([^\x00]*))?(?=\x00|\Z)")
_SOFTDEP_ITEMS = re.compile(rb"\x00softdep(?:=([^\x00]*))?(?=\x00|\Z)")
_UNDEF_TO_ONE = bytes([1] + [0] * 255)              # shndx byte 0 (SHN_UNDEF) -> selected
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass
class ModuleFacts:
    """What depmod reads from one module file."""

    exports: list[str]                 # symbols it provides (kmod_elf_get_symbols order)
    dep_symbols: list[tuple[str, bool]]  # (symbol, weak) it needs, in kmod's order
    info: list[tuple[str, str]]        # .modinfo key/value pairs in section order

    @property
    def dep_names(self) -> list[str]:
        return [name for name, _weak in self.dep_symbols]


class DepmodScan:
    """scan_file's answer: only what `depmod` uses, in a form that is cheap to build.

    exports: as ModuleFacts.exports, in string-table order (depmod only hashes them).
    dep_names: the undefined symbols, then every __versions name, so a name can repeat;
      depmod keeps each owner once, in order of first appearance, which makes the owners
      those of ModuleFacts.dep_symbols (where a __versions name already seen is skipped).
    info: the alias items, then the softdep items (all depmod writes from .modinfo)."""

    __slots__ = ("exports", "dep_names", "info")

    def __init__(self, exports: list[str], dep_names: list[str], info: list[tuple[str, str]]):
        self.exports, self.dep_names, self.info = exports, dep_names, info


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


def _section_index(names: bytes, name_col: list[int], wanted: bytes) -> int:
    """_first_named over columns: the lowest index whose sh_name starts `wanted` (NUL ended)."""
    best = -1
    pos = names.find(wanted)
    while pos >= 0:
        if pos in name_col:
            index = name_col.index(pos)
            best = index if best < 0 else min(best, index)
        pos = names.find(wanted, pos + 1)
    return best


def scan_file(path: str) -> DepmodScan | None:
    """What depmod needs from a plain ELF64 module file, by pread; None -> the caller reads
    it through facts_from_image (which also gives the error for a hostile file)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        return _scan(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _scan(fd: int) -> DepmodScan | None:
    pread = os.pread
    head = pread(fd, 64, 0)
    if len(head) < 64:
        return None
    (magic, elfclass, data, _type, _machine, _version, _entry, _phoff, shoff, _flags, _ehsize,
     _phentsize, _phnum, shentsize, shnum, shstrndx) = _EHDR.unpack(head)
    if (magic != b"\x7fELF" or elfclass != 2 or data != 1 or shentsize != 64 or shnum == 0
            or shstrndx >= shnum or shoff < 64):
        return None
    # the linker puts .shstrtab just before the section headers: one read for both
    start = max(shoff - 1024, 64)
    end = shoff + shnum * 64
    tail = pread(fd, end - start, start)
    table = memoryview(tail)[shoff - start :]
    if len(table) != shnum * 64:
        return None               # the section headers run past the end of the file
    quads, words = table.cast("Q"), table.cast("I")              # Elf64_Shdr columns
    offsets, sizes = quads[3::8].tolist(), quads[4::8].tolist()
    name_col, types, links = words[::16].tolist(), words[1::16].tolist(), words[10::16].tolist()
    if max(links) >= shnum or types[shstrndx] in (0, _SHT_NOBITS):
        return None               # elf64.section_rows has the message for these
    if max(map(add, offsets, sizes)) > end and not _inside_file(fd, offsets, sizes, types):
        return None
    at, length = offsets[shstrndx], sizes[shstrndx]
    names = tail[at - start : at - start + length] if at >= start else pread(fd, length, at)
    if max(name_col) >= len(names):
        return None

    def section(index: int) -> bytes:
        return b"" if types[index] in (0, _SHT_NOBITS) else pread(fd, sizes[index],
                                                                 offsets[index])

    exports: list[str] = []
    deps: list[str] = []
    if _SHT_SYMTAB in types:
        symtab = types.index(_SHT_SYMTAB)
        strtab_index = links[symtab]
        at, length = offsets[symtab], sizes[symtab]
        str_at, str_length = offsets[strtab_index], sizes[strtab_index]
        if (types[strtab_index] not in (0, _SHT_NOBITS)
                and 0 <= str_at - (at + length) < 4096):   # .strtab follows .symtab: one read
            both = pread(fd, str_at + str_length - at, at)
            symbols, strtab = both[:length], both[str_at - at :]
        else:
            symbols, strtab = section(symtab), section(strtab_index)
        if not strtab.isascii():
            return None           # names need UTF-8 decoding one by one: the validated path
        exports, deps = _symbol_names(symbols, strtab)
    if not exports:               # no __crc_ symbols: kmod_elf_get_symbols_symtab
        ksymtab = _section_index(names, name_col, b"__ksymtab_strings\0")
        if ksymtab >= 0:
            exports = [s.decode("utf-8", "surrogateescape")
                       for s in section(ksymtab).split(b"\0") if s]
    versions = _section_index(names, name_col, b"__versions\0")
    if versions >= 0:             # module_layout: needed, though no symbol names it
        deps += _version_names(section(versions))
    modinfo = _section_index(names, name_col, b".modinfo\0")
    return DepmodScan(exports, deps, _written_info(section(modinfo)) if modinfo >= 0 else [])


def _inside_file(fd: int, offsets: list[int], sizes: list[int], types: list[int]) -> bool:
    """Whether every section with file contents lies inside the file (elf64.section_rows)."""
    info = os.fstat(fd)
    return stat.S_ISREG(info.st_mode) and all(
        at + length <= info.st_size or kind in (0, _SHT_NOBITS)
        for at, length, kind in zip(offsets, sizes, types, strict=True))


def _symbol_names(symbols: bytes, strtab: bytes) -> tuple[list[str], list[str]]:
    """(exports, undefined symbols) of an Elf64_Sym table with an ASCII string table.

    Exports are the `__crc_` names (kmod_elf_get_symbols), in string-table order; the
    undefined symbols (st_shndx == SHN_UNDEF, kmod_elf_get_dependency_symbols) in symbol
    order, without index 0, names at offset 0 or past .strtab, or `__crc_` names."""
    count = len(symbols) // 24
    symbols = symbols[: count * 24]
    text = strtab.decode("ascii") if strtab.endswith(b"\0") else strtab.decode() + "\0"
    find = text.find
    crc_at = set()
    if b"__crc_" in strtab:       # the start of every "__crc_" in .strtab
        crc_at = set(map(sub, accumulate(map(add, map(len, strtab.split(b"__crc_")[:-1]),
                                              repeat(6))), repeat(6)))
        crc_at.discard(0)         # a name at offset 0 is skipped, as libkmod-elf.c does
    st_name = memoryview(symbols).cast("I")[6::6]               # from symbol 1 on
    # st_shndx is bytes 6-7 of each Elf64_Sym: both zero for SHN_UNDEF
    shndx = (int.from_bytes(symbols[6::24], "little")
             | int.from_bytes(symbols[7::24], "little")).to_bytes(count, "little")
    undefined = list(compress(st_name, shndx[1:].translate(_UNDEF_TO_ONE)))
    if undefined and (min(undefined) == 0 or max(undefined) >= len(strtab)
                      or (crc_at and not crc_at.isdisjoint(undefined))):
        undefined = [n for n in undefined if 0 < n < len(strtab) and n not in crc_at]
    deps = [text[n : find("\0", n)] for n in undefined]
    exports = [text[n + 6 : find("\0", n)] for n in sorted(crc_at.intersection(st_name))]
    return exports, deps


def _version_names(table: bytes) -> list[str]:
    """The names of __versions' struct modversion_info entries (include/linux/module.h:
    unsigned long crc; char name[56]), each up to its first NUL.

    The crc columns are zeroed and the names picked out by one regex; should that not give
    exactly one name per entry (an empty name, a NUL inside one), each entry is cut alone."""
    count = len(table) // 64
    if not count:
        return []
    cleaned = bytearray(table[: count * 64])
    memoryview(cleaned).cast("Q")[::8] = memoryview(bytes(8 * count)).cast("Q")
    names = _NAME_RUNS.findall(cleaned.decode("latin-1"))
    if len(names) != count:
        names = [table[at + 8 : at + 64].split(b"\0", 1)[0].decode("latin-1")
                 for at in range(0, count * 64, 64)]
    return names if all(map(str.isascii, names)) else [
        name.encode("latin-1").decode("utf-8", "surrogateescape") for name in names]


def _written_info(raw: bytes) -> list[tuple[str, str]]:
    """The alias=... then the softdep=... items of .modinfo (split as kmod_elf_get_strings
    splits; an item `alias` without '=' has the value ''), each kind in section order."""
    items = []
    for key, pattern in (("alias", _ALIAS_ITEMS), ("softdep", _SOFTDEP_ITEMS)):
        if key.encode() in raw:
            items += [(key, value.decode("utf-8", "surrogateescape"))
                      for value in pattern.findall(b"\0" + raw)]
    return items
