"""`kcourse objdump -f|-h|-t FILE...`: binutils 2.40 objdump's views of an x86-64 .ko, exactly.

Rules followed (binutils 2.40):
- binutils/objdump.c dump_bfd: "\\n<file>:     file format elf64-x86-64\\n", then -f
  (dump_bfd_header), an empty line, -h (dump_headers / dump_section_header), -t
  (dump_symbols, which ends with two newlines).
- bfd/elf.c bfd_section_from_shdr: the null section, the symbol table, its string table,
  the section-name table and relocation sections that apply to another section are not BFD
  sections; each such relocation section sets RELOC on its target and HAS_RELOC on the file.
- bfd/elf.c _bfd_elf_make_section_from_shdr: the CONTENTS/ALLOC/LOAD/READONLY/CODE/DATA,
  DEBUGGING, OCTETS and LINK_ONCE_DISCARD flags; alignment printed as 2**ceil(log2(align)).
- bfd/elfcode.h elf_slurp_symbol_table + bfd/syms.c bfd_print_symbol_vandf + bfd/elf.c
  bfd_elf_print_symbol: one line per symbol from index 1, value, the 7 flag columns
  (l/g/u/!, w, C, W, I/i, d/D, F/f/O), section (*UND*, *ABS*, *COM*), size, name.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from kcourse.elf import elf64
from kcourse.errors import KoFormatError

SHT_GROUP, SHT_SYMTAB_SHNDX, SHT_DYNSYM = 17, 18, 11
SHF_MERGE, SHF_STRINGS, SHF_GROUP, SHF_TLS = 0x10, 0x20, 0x200, 0x400
SHF_EXCLUDE = 0x80000000
# bfd section flags, in the order dump_section_header prints them
_FLAG_ORDER = ("CONTENTS", "ALLOC", "LOAD", "RELOC", "READONLY", "CODE", "DATA", "DEBUGGING",
               "EXCLUDE", "OCTETS", "THREAD_LOCAL", "GROUP")
ARCH = {62: "i386:x86-64", 3: "i386", 183: "aarch64"}
TARGET = {62: "elf64-x86-64", 183: "elf64-littleaarch64"}


def _log2(value: int) -> int:
    """bfd_log2: the smallest n with 2**n >= value."""
    n = 0
    while (1 << n) < value:
        n += 1
    return n


def bfd_sections(ko) -> list[tuple]:
    """(ELF section, flag names) for every section BFD makes, in BFD's index order."""
    sections = ko.sections
    symtab = next((s.index for s in sections if s.type == elf64.SHT_SYMTAB), 0)
    strtab = sections[symtab].link if symtab else -1
    reloc_targets = set()
    skipped = {0, symtab, ko.header.shstrndx, strtab}
    for sec in sections:
        if sec.type == SHT_SYMTAB_SHNDX:
            skipped.add(sec.index)
        if sec.type in (elf64.SHT_RELA, elf64.SHT_REL):
            target = sections[sec.info] if 0 < sec.info < len(sections) else None
            if (sec.link != 0 and sec.link == symtab and target is not None
                    and target.type not in (elf64.SHT_RELA, elf64.SHT_REL)):
                reloc_targets.add(sec.info)
                skipped.add(sec.index)
    out = []
    for sec in sections:
        if sec.index in skipped or (sec.type == elf64.SHT_SYMTAB and sec.index != symtab):
            continue
        out.append((sec, section_flags(sec, sec.index in reloc_targets)))
    return out


def section_flags(sec, has_reloc: bool) -> list[str]:
    """_bfd_elf_make_section_from_shdr's flags, as dump_section_header names them."""
    flags = set()
    if sec.type != elf64.SHT_NOBITS:
        flags.add("CONTENTS")
    if sec.type == SHT_GROUP:
        flags.add("GROUP")
    if sec.flags & elf64.SHF_ALLOC:
        flags.add("ALLOC")
        if sec.type != elf64.SHT_NOBITS:
            flags.add("LOAD")
    if not sec.flags & elf64.SHF_WRITE:
        flags.add("READONLY")
    if sec.flags & elf64.SHF_EXECINSTR:
        flags.add("CODE")
    elif "LOAD" in flags:
        flags.add("DATA")
    if sec.flags & SHF_TLS:
        flags.add("THREAD_LOCAL")
    if sec.flags & SHF_EXCLUDE:
        flags.add("EXCLUDE")
    name = sec.name
    if "ALLOC" not in flags and name.startswith("."):
        if not sec.flags & SHF_EXCLUDE:
            if name.startswith((".debug", ".gnu.debuglto_.debug_", ".gnu.linkonce.wi.",
                                ".zdebug")):
                flags |= {"DEBUGGING", "OCTETS"}
            elif name.startswith((".gnu.build.attributes", ".note.gnu")):
                flags.add("OCTETS")
            elif name.startswith((".line", ".stab")) or name == ".gdb_index":
                flags.add("DEBUGGING")
    if has_reloc:
        flags.add("RELOC")
    names = [f for f in _FLAG_ORDER if f in flags]
    if name.startswith(".gnu.linkonce") and not sec.flags & SHF_GROUP:
        names.append("LINK_ONCE_DISCARD")
    return names


def file_flags(ko) -> tuple[int, list[str]]:
    """abfd->flags as dump_bfd_header prints them: HAS_RELOC 0x1, EXEC_P 0x2, HAS_SYMS 0x10,
    DYNAMIC 0x40, D_PAGED 0x100."""
    value, names = 0, []
    symtab = next((s.index for s in ko.sections if s.type == elf64.SHT_SYMTAB), 0)
    has_reloc = any(s.type in (elf64.SHT_RELA, elf64.SHT_REL) and s.link == symtab != 0
                    and 0 < s.info < len(ko.sections) for s in ko.sections)
    if has_reloc:
        value |= 0x1
        names.append("HAS_RELOC")
    if ko.header.e_type == 2:
        value |= 0x2
        names.append("EXEC_P")
    if symtab:
        value |= 0x10
        names.append("HAS_SYMS")
    if ko.header.e_type == 3:
        value |= 0x40
        names.append("DYNAMIC")
    return value, names


def format_file_header(ko) -> str:
    value, names = file_flags(ko)
    arch = ARCH.get(ko.header.e_machine, "UNKNOWN!")
    return (f"architecture: {arch}, flags 0x{value:08x}:\n{', '.join(names)}\n"
            f"start address 0x{ko.header.entry:016x}\n")


def format_section_headers(ko) -> str:
    lines = ["Sections:",
             "Idx Name          Size      VMA               LMA               File off  Algn"]
    for idx, (sec, flags) in enumerate(bfd_sections(ko)):
        lines.append(f"{idx:3d} {sec.name:<13s} {sec.size:08x}  {sec.addr:016x}  "
                     f"{sec.addr:016x}  {sec.offset:08x}  2**{_log2(sec.align)}")
        lines.append("                  " + ", ".join(flags))
    return "\n".join(lines) + "\n"


def _flag_columns(sym) -> str:
    """bfd_print_symbol_vandf's seven columns for an ELF symbol (elf_slurp_symbol_table)."""
    bind, typ = sym.info >> 4, sym.info & 0xF
    local = bind == 0
    glob = bind == 1 and sym.shndx not in (elf64.SHN_UNDEF, elf64.SHN_COMMON)
    unique = bind == 10
    first = ("!" if glob else "l") if local else ("g" if glob else "u" if unique else " ")
    debugging = typ in (3, 4)  # STT_SECTION, STT_FILE
    kind = "F" if typ == 2 else "f" if typ == 4 else "O" if typ in (1, 5) else " "
    return (first + ("w" if bind == 2 else " ") + "  " + ("i" if typ == 10 else " ")
            + ("d" if debugging else " ") + kind)


def _symbol_section(ko, sym) -> str:
    if sym.shndx == elf64.SHN_UNDEF:
        return "*UND*"
    if sym.shndx == elf64.SHN_ABS:
        return "*ABS*"
    if sym.shndx == elf64.SHN_COMMON:
        return "*COM*"
    if sym.shndx < len(ko.sections) and sym.shndx < elf64.SHN_LORESERVE:
        return ko.sections[sym.shndx].name
    return "*ABS*"


def format_symbols(ko) -> str:
    lines = ["SYMBOL TABLE:"]
    symbols = ko.symbols[1:]
    if not symbols:
        lines.append("no symbols")
    for sym in symbols:
        section = _symbol_section(ko, sym)
        name = sym.name
        if sym.type == "SECTION" and not name and 0 < sym.shndx < len(ko.sections):
            name = ko.sections[sym.shndx].name  # bfd_elf_sym_name
        # a common symbol shows its size as the value and its alignment after the section
        value = sym.size if sym.shndx == elf64.SHN_COMMON else sym.value
        other = sym.other
        vis = {0: "", 1: " .internal", 2: " .hidden", 3: " .protected"}.get(
            other, f" 0x{other:02x}")
        extra = sym.value if sym.shndx == elf64.SHN_COMMON else sym.size
        lines.append(f"{value:016x} {_flag_columns(sym)} "
                     f"{section}\t{extra:016x}{vis} {name}")
    return "\n".join(lines) + "\n\n\n"


def objdump_text(ko, file_header=False, headers=False, syms=False,
                 filename: str | None = None) -> str:
    """What `objdump [-f] [-h] [-t] FILE` prints for a KoFile."""
    shown = filename if filename is not None else str(ko.path)
    target = TARGET.get(ko.header.e_machine, "elf64-little")
    out = [f"\n{shown}:     file format {target}\n"]
    if file_header:
        out.append(format_file_header(ko))
    out.append("\n")
    if headers:
        out.append(format_section_headers(ko))
    if syms:
        out.append(format_symbols(ko))
    return "".join(out)


def file_size_refusal(name: str) -> str | None:
    """binutils/bucomm.c get_file_size: what objdump says before it opens a file that is
    missing, a directory or not an ordinary file (a FIFO, a device); None when it is fine."""
    try:
        info = os.stat(name)
    except ValueError:  # a NUL byte in the name: stat(2) would see a shorter name
        return f"'{name}': No such file"
    except OSError as err:
        if err.errno == errno.ENOENT:
            return f"'{name}': No such file"
        return f"Warning: could not locate '{name}'.  reason: {err.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return f"Warning: '{name}' is a directory"
    if not stat.S_ISREG(info.st_mode):
        return f"Warning: '{name}' is not an ordinary file"
    return None


_LONG = {"file-headers": "f", "section-headers": "h", "headers": "h", "syms": "t"}


def main(argv: list[str]) -> int:
    from kcourse.elf.cliutil import ByteOut
    from kcourse.elf.kofile import KoFile

    want: set[str] = set()
    files: list[str] = []
    only_files = False
    for arg in argv:
        if only_files or not arg.startswith("-") or arg == "-":
            files.append(arg)
        elif arg == "--":
            only_files = True
        elif arg.startswith("--"):
            name = arg[2:]
            matches = [k for k in _LONG if k.startswith(name)]
            if name in _LONG:
                matches = [name]
            if len({_LONG[m] for m in matches}) != 1:
                sys.stderr.write(f"objdump: unrecognized option '{arg}'\n")
                return 1
            want.add(_LONG[matches[0]])
        else:
            for letter in arg[1:]:
                if letter not in "fht":
                    sys.stderr.write(f"objdump: invalid option -- '{letter}' "
                                     "(kcourse objdump knows -f, -h and -t)\n")
                    return 1
                want.add(letter)
    if not want:
        sys.stderr.write("Usage: objdump <option(s)> <file(s)>  (kcourse: -f, -h, -t)\n")
        return 1
    failed = False
    for name in files or ["a.out"]:
        refusal = file_size_refusal(name)
        if refusal is not None:
            sys.stdout.flush()
            sys.stderr.write(f"objdump: {refusal}\n")
            failed = True
            continue
        try:
            ko = KoFile(name)
            text = objdump_text(ko, "f" in want, "h" in want, "t" in want, filename=name)
        except KoFormatError as err:
            sys.stdout.flush()
            sys.stderr.write(f"objdump: {err}\n")
            failed = True
            continue
        out = ByteOut(sys.stdout)
        out.write(text.encode("utf-8", "surrogateescape"))
        out.flush()
    sys.stdout.flush()
    return 1 if failed else 0
