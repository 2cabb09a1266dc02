"""The fast path of `kcourse depmod`: what depmod needs from every plain .ko file of a tree.

A few reads per file fetch only the ELF header, the section headers with .shstrtab, the
symbol and string tables, __versions and .modinfo (kmod mmaps the file and touches the same
pages): one 64 KiB read holds all of most modules. The symbol table's columns are picked
out with memoryview casts and byte slices, so no Python object is made per symbol, only per
name depmod keeps. The rules are libkmod-elf.c's, as in depmod_facts.facts_from_image; a
file with anything unusual (compressed, extended section numbering, a section past the end
of the file, names that are not ASCII) gets None, and the caller reads it through
facts_from_image, which also gives the error for a hostile file.

scan_files shares a tree's files between processes (fork) when asked to: a child scans
every other file and sends its answers back through a pipe (marshal).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import struct
from itertools import accumulate, compress, filterfalse, repeat
from operator import add, sub

from kcourse.elf.depmod_facts import DepmodScan

_EHDR = struct.Struct("<4sBB10xHHIQQQIHHHHHH")    # Elf64_Ehdr (include/uapi/linux/elf.h)
_SHT_SYMTAB, _SHT_NOBITS = 2, 8
_FIRST_READ = 64 * 1024
# the .modinfo items depmod writes out: alias=... (modules.alias, .devname), softdep=...
_ALIAS_ITEMS = re.compile(rb"\x00alias(?:=([^\x00]*))?(?=\x00|\Z)")
_SOFTDEP_ITEMS = re.compile(rb"\x00softdep(?:=([^\x00]*))?(?=\x00|\Z)")
_NUL_TO_SPACE = bytes.maketrans(b"\0", b" ")
_UNDEF_TO_ONE = bytes([1] + [0] * 255)              # shndx byte 0 (SHN_UNDEF) -> selected
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def _section_index(names: bytes, name_col: list[int], wanted: bytes) -> int:
    """_first_named over columns: the lowest index whose sh_name starts `wanted` (NUL ended)."""
    best = -1
    pos = names.find(wanted)
    while pos >= 0:
        try:
            index = name_col.index(pos)
        except ValueError:
            pass
        else:
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
    # One read of the file's first 64 KiB: all of most modules (Debian's median is 35 KB),
    # the ELF header and often .modinfo and __versions of the rest. Beyond it, pread.
    first = os.read(fd, _FIRST_READ)
    whole = len(first) < _FIRST_READ
    pread = os.pread

    def read(at: int, length: int) -> bytes:
        return first[at : at + length] if at + length <= len(first) else pread(fd, length, at)

    if len(first) < 64:
        return None
    (magic, elfclass, data, _type, _machine, _version, _entry, _phoff, shoff, _flags, _ehsize,
     _phentsize, _phnum, shentsize, shnum, shstrndx) = _EHDR.unpack_from(first)
    if (magic != b"\x7fELF" or elfclass != 2 or data != 1 or shentsize != 64 or shnum == 0
            or shstrndx >= shnum or shoff < 64):
        return None
    # the linker puts .shstrtab just before the section headers: one read for both
    start = max(shoff - 1024, 64)
    end = shoff + shnum * 64
    tail = read(start, end - start)
    table = memoryview(tail)[shoff - start :]
    if len(table) != shnum * 64:
        return None               # the section headers run past the end of the file
    quads, words = table.cast("Q"), table.cast("I")              # Elf64_Shdr columns
    offsets, sizes = quads[3::8].tolist(), quads[4::8].tolist()
    name_col, types, links = words[::16].tolist(), words[1::16].tolist(), words[10::16].tolist()
    if max(links) >= shnum or types[shstrndx] in (0, _SHT_NOBITS):
        return None               # elf64.section_rows has the message for these
    if (max(map(add, offsets, sizes)) > (len(first) if whole else end)
            and not _inside_file(fd, offsets, sizes, types)):
        return None
    at, length = offsets[shstrndx], sizes[shstrndx]
    names = tail[at - start : at - start + length] if at >= start else read(at, length)
    if max(name_col) >= len(names):
        return None

    def section(index: int) -> bytes:
        return b"" if types[index] in (0, _SHT_NOBITS) else read(offsets[index], sizes[index])

    exports: list[str] = []
    deps: list[str] = []
    if _SHT_SYMTAB in types:
        symtab = types.index(_SHT_SYMTAB)
        strtab_index = links[symtab]
        at, length = offsets[symtab], sizes[symtab]
        str_at, str_length = offsets[strtab_index], sizes[strtab_index]
        if (types[strtab_index] not in (0, _SHT_NOBITS)
                and 0 <= str_at - (at + length) < 4096):   # .strtab follows .symtab: one read
            both = read(at, str_at + str_length - at)
            symbols, strtab = both[:length], both[str_at - at :]
        else:
            symbols, strtab = section(symtab), section(strtab_index)
        if not strtab.isascii():
            return None           # names need UTF-8 decoding one by one: the validated path
        exports, deps = _symbol_names(symbols, strtab, words[11 + 16 * symtab])
    if not exports:               # no __crc_ symbols: kmod_elf_get_symbols_symtab
        ksymtab = _section_index(names, name_col, b"__ksymtab_strings\0")
        if ksymtab >= 0:
            exports = [s.decode("utf-8", "surrogateescape")
                       for s in section(ksymtab).split(b"\0") if s]
    versions = _section_index(names, name_col, b"__versions\0")
    if versions >= 0:             # module_layout: needed, though no symbol names it
        deps += _versions_not_in(section(versions), deps)
    modinfo = _section_index(names, name_col, b".modinfo\0")
    raw = section(modinfo) if modinfo >= 0 else b""
    return DepmodScan(exports, deps, _info_values(raw, b"alias", _ALIAS_ITEMS),
                      _info_values(raw, b"softdep", _SOFTDEP_ITEMS))


def _inside_file(fd: int, offsets: list[int], sizes: list[int], types: list[int]) -> bool:
    """Whether every section with file contents lies inside the file (elf64.section_rows)."""
    info = os.fstat(fd)
    return stat.S_ISREG(info.st_mode) and all(
        at + length <= info.st_size or kind in (0, _SHT_NOBITS)
        for at, length, kind in zip(offsets, sizes, types, strict=True))


def _symbol_names(symbols: bytes, strtab: bytes, first_global: int
                  ) -> tuple[list[str], list[str]]:
    """(exports, undefined symbols) of an Elf64_Sym table with an ASCII string table.

    Exports are the `__crc_` names (kmod_elf_get_symbols), in string-table order; the
    undefined symbols (st_shndx == SHN_UNDEF, kmod_elf_get_dependency_symbols) in symbol
    order, without index 0, names at offset 0 or past .strtab, or `__crc_` names.
    first_global: the symbol table's sh_info, where the local symbols end; the undefined
    ones are looked for after it, unless a local one is undefined too."""
    count = len(symbols) // 24
    symbols = symbols[: count * 24]
    text = strtab.decode("ascii") if strtab.endswith(b"\0") else strtab.decode() + "\0"
    find = text.find
    crc_at = set()
    if b"__crc_" in strtab:       # the start of every "__crc_" in .strtab
        crc_at = set(map(sub, accumulate(map(add, map(len, strtab.split(b"__crc_")[:-1]),
                                              repeat(6))), repeat(6)))
        crc_at.discard(0)         # a name at offset 0 is skipped, as libkmod-elf.c does
    # st_shndx is bytes 6-7 of each Elf64_Sym: both zero for SHN_UNDEF
    undefined_at = (int.from_bytes(symbols[6::24], "little")
                    | int.from_bytes(symbols[7::24], "little")).to_bytes(
                        count, "little").translate(_UNDEF_TO_ONE)
    start = first_global if 1 < first_global <= count and 1 not in undefined_at[
        1:first_global] else 1
    words = memoryview(symbols).cast("I")
    undefined = list(compress(words[6 * start :: 6], undefined_at[start:]))
    if undefined and (min(undefined) == 0 or max(undefined) >= len(strtab)
                      or (crc_at and not crc_at.isdisjoint(undefined))):
        undefined = [n for n in undefined if 0 < n < len(strtab) and n not in crc_at]
    deps = [text[n : find("\0", n)] for n in undefined]
    exports = [text[n + 6 : find("\0", n)]
               for n in sorted(crc_at.intersection(words[6::6]))] if crc_at else []
    return exports, deps


def _versions_not_in(table: bytes, names: list[str]) -> list[str]:
    """The names of __versions' entries (include/linux/module.h struct modversion_info:
    unsigned long crc; char name[56]; each name up to its first NUL) that are not in
    `names`, once each, in table order."""
    listed = _version_names(table)
    known = set(names)
    extra = list(filterfalse(known.__contains__, listed))
    return list(dict.fromkeys(extra)) if extra else []


def _version_names(table: bytes) -> list[str]:
    """Every entry's name. With the crc columns zeroed and the NULs made spaces, one
    whitespace split gives the names, when there is no whitespace to begin with and every
    entry has a name: then each entry gives exactly one word, its name, only if nothing
    follows a NUL in its field; otherwise each field is cut at its first NUL."""
    count = len(table) // 64
    fields = bytearray(table[: count * 64])
    memoryview(fields).cast("Q")[::8] = memoryview(bytes(8 * count)).cast("Q")
    if (fields.isascii() and 0 not in fields[8::64]
            and not any(map(fields.__contains__, b" \t\n\v\f\r"))):
        listed = fields.translate(_NUL_TO_SPACE).decode("ascii").split()
        if len(listed) == count:
            return listed
    return [table[at + 8 : at + 64].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            for at in range(0, count * 64, 64)]


def _info_values(raw: bytes, key: bytes, items: re.Pattern) -> list[str]:
    """The values of the `key=...` items of .modinfo, in order (split as
    kmod_elf_get_strings splits; an item that is just `key`, without '=', has the value '')."""
    if key not in raw:
        return []
    return [value.decode("utf-8", "surrogateescape") for value in items.findall(b"\0" + raw)]


def scan_files(paths: list[str], jobs: int = 1) -> list[DepmodScan | None]:
    """scan_file for every path, in order. With jobs > 1, jobs - 1 forked children each scan
    every jobs-th file and send their answers through a pipe; a child that fails has its
    share scanned here instead. Forking is only for a single-threaded process (the
    `kcourse depmod` command): a thread holding a lock would leave the child stuck."""
    import threading

    if jobs <= 1 or len(paths) < 2 * jobs or threading.active_count() > 1:
        return [scan_file(path) for path in paths]
    pending = {share: _fork_scanner(paths[share::jobs]) for share in range(1, jobs)}
    results: list[DepmodScan | None] = [None] * len(paths)
    try:
        results[0::jobs] = [scan_file(path) for path in paths[0::jobs]]
        for share in range(1, jobs):
            answers = _collect(*pending.pop(share))
            results[share::jobs] = answers or [scan_file(p) for p in paths[share::jobs]]
    finally:
        for pid, pipe in pending.values():   # only if this process is failing
            with contextlib.suppress(OSError):
                os.close(pipe)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)     # our own child, by its pid, not yet reaped
                os.waitpid(pid, 0)
    return results


def _fork_scanner(paths: list[str]) -> tuple[int, int]:
    """Start a child that scans `paths` and writes marshal'ed answers to a pipe: (pid, fd)."""
    import gc
    import marshal

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                         # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read_end)
            gc.disable()                 # a collection would touch (copy) every shared page
            answers = [None if scan is None else (scan.exports, scan.dep_names, scan.aliases,
                                                  scan.softdeps)
                       for scan in map(scan_file, paths)]
            with os.fdopen(write_end, "wb") as out:
                out.write(marshal.dumps(answers))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, pipe: int) -> list[DepmodScan | None] | None:
    """A child's answers, or None when it failed."""
    import marshal

    with os.fdopen(pipe, "rb") as source:
        data = source.read()
    _pid, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    return [None if answer is None else DepmodScan(*answer) for answer in marshal.loads(data)]
