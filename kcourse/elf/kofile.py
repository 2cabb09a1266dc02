"""KoFile: one kernel module file (.ko, .ko.xz, .ko.zst, .ko.gz) and what is inside it.

The contract is shared-prompts/kofile-api.md. Everything a loader or a lesson needs from a
.ko comes from here: the ELF header and sections, symbols and relocations, `.modinfo`,
`__versions` CRCs, exports from `__ksymtab*`, the `struct module` image in
`.gnu.linkonce.this_module`, and the appended signature. The image is validated when the
file is opened (offsets, sizes, counts); the views are parsed lazily and cached.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from kcourse.elf import elf64, image
from kcourse.elf.elf64 import ElfHeader, Relocation, Section, Symbol  # noqa: F401 (re-export)
from kcourse.elf.modinfo_read import split_modinfo
from kcourse.elf.signature import ModuleSignature, read_signature
from kcourse.errors import KoFormatError

# include/linux/module.h: struct modversion_info { unsigned long crc; char name[64 - 8]; }
MODVERSION = struct.Struct("<Q56s")
# struct module (6.1, x86-64): state (4) + pad (4) + list_head (16), then char name[56]
THIS_MODULE_NAME_OFFSET, MODULE_NAME_LEN = 24, 56
# 6.1 x86-64 offsets of struct module's init / exit pointers (hello.ko: .rela.gnu.linkonce.
# this_module). Used only when a relocation's symbol is not init_module / cleanup_module.
_INIT_OFFSET, _EXIT_OFFSET = 0x138, 0x350
_SUFFIX = re.compile(r"\.ko(\.(xz|zst|gz))?$")
R_X86_64_64, R_X86_64_PC32 = 1, 2


@dataclass(frozen=True)
class Export:
    name: str
    gpl_only: bool
    namespace: str | None
    crc: int | None


@dataclass(frozen=True)
class ThisModule:
    name: str
    init: str | None
    exit: str | None


class KoFile:
    """A kernel module file. Raises KoFormatError (one line naming the file) when unreadable."""

    def __init__(self, path: str | os.PathLike, data: bytes | None = None):
        self.path = Path(path)
        if data is None:
            self.raw, self.compression = image.load(self.path)
        else:
            self.raw, self.compression = image.decompress(self.path, data)
        self.header: ElfHeader = elf64.parse_header(self.path, self.raw)
        self.sections: list[Section] = elf64.parse_sections(self.path, self.raw, self.header)
        self._by_name: dict[str, Section] = {}
        for sec in self.sections:
            self._by_name.setdefault(sec.name, sec)

    def __repr__(self) -> str:
        return f"KoFile({str(self.path)!r})"

    # ------------------------------------------------------------------ sections
    # The verbs are pyelftools' (num_sections, get_section, iter_sections, ...), so a learner
    # who moves on to pyelftools finds the same words.
    def num_sections(self) -> int:
        return len(self.sections)

    def get_section(self, index: int) -> Section:
        return self.sections[index]

    def iter_sections(self, type: int | None = None):  # noqa: A002 - pyelftools' name
        return (s for s in self.sections if type is None or s.type == type)

    def get_section_by_name(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, section: Section) -> bytes:
        return elf64.section_bytes(self.raw, section)

    def _data(self, name: str) -> bytes:
        sec = self._by_name.get(name)
        return self.section_data(sec) if sec else b""

    @functools.cached_property
    def elf(self):
        """pyelftools' ELFFile over the image, for deep views (DWARF, notes, ...)."""
        import io

        from elftools.elf.elffile import ELFFile

        try:
            return ELFFile(io.BytesIO(self.raw))
        except Exception as err:  # pyelftools raises many types on odd input
            raise KoFormatError(f"{self.path}: pyelftools cannot read it: {err}") from None

    # ------------------------------------------------------------------ symbols
    @functools.cached_property
    def _symbols_by_table(self) -> dict[int, list[Symbol]]:
        symtab = next((s for s in self.sections if s.type == elf64.SHT_SYMTAB), None)
        if symtab is None:
            return {}
        return {symtab.index: elf64.parse_symbols(self.path, self.raw, self.sections)}

    @functools.cached_property
    def symbols(self) -> list[Symbol]:
        tables = self._symbols_by_table
        return next(iter(tables.values()), [])

    @functools.cached_property
    def undefined_symbols(self) -> list[str]:
        return [s.name for s in self.symbols
                if s.shndx == elf64.SHN_UNDEF and s.bind in ("GLOBAL", "WEAK") and s.name]

    @functools.cached_property
    def relocations(self) -> list[Relocation]:
        return elf64.parse_relocations(self.path, self.raw, self.sections, self._symbols_by_table)

    def _relocations_of(self, section_name: str) -> dict[int, Relocation]:
        return {r.offset: r for r in self.relocations if r.section == section_name}

    # ------------------------------------------------------------------ .modinfo
    @functools.cached_property
    def modinfo(self) -> list[tuple[str, str]]:
        pairs = []
        for item in split_modinfo(self._data(".modinfo")):
            key, _, value = item.partition(b"=")
            pairs.append((key.decode("utf-8", "surrogateescape"),
                          value.decode("utf-8", "surrogateescape")))
        return pairs

    def modinfo_get(self, key: str) -> str | None:
        return next((v for k, v in self.modinfo if k == key), None)

    def modinfo_all(self, key: str) -> list[str]:
        return [v for k, v in self.modinfo if k == key]

    @property
    def name(self) -> str:
        name = self.modinfo_get("name")
        if name:
            return name
        return _SUFFIX.sub("", self.path.name).replace("-", "_")

    # ------------------------------------------------------------------ __versions
    @functools.cached_property
    def versions(self) -> dict[str, int]:
        """__versions: symbol -> CRC (kernel/module/version.c check_version reads the same)."""
        data = self._data("__versions")
        out: dict[str, int] = {}
        for crc, name in struct.iter_unpack(MODVERSION.format,
                                            data[: len(data) // MODVERSION.size * MODVERSION.size]):
            out.setdefault(elf64.cstr(name, 0), crc & 0xFFFFFFFF)
        return out

    # ------------------------------------------------------------------ exports
    def _pointer_target(self, relocs: dict[int, Relocation], offset: int) -> tuple[str, int]:
        """(section, offset) a ksymtab field points at, following its relocation (S + A)."""
        rel = relocs.get(offset)
        if rel is None:
            return "", -1
        sym = self.symbols[rel.symbol_index] if rel.symbol_index < len(self.symbols) else None
        if sym is None or sym.section is None:
            return "", -1
        return sym.section, sym.value + rel.addend

    def _string_at(self, section: str, offset: int) -> str | None:
        data = self._data(section)
        if section != "__ksymtab_strings" or not 0 <= offset < len(data):
            return None
        return elf64.cstr(data, offset)

    @functools.cached_property
    def exports(self) -> list[Export]:
        """EXPORT_SYMBOL* entries: struct kernel_symbol in __ksymtab / __ksymtab_gpl.

        With CONFIG_HAVE_ARCH_PREL32_RELOCATIONS (x86-64) each entry is three s32 offsets,
        value / name / namespace (include/linux/export.h, 6.1); otherwise three pointers.
        The CRC of entry i is __kcrctab[i] (kernel/module/main.c find_exported_symbol_in_section
        passes `syms->crcs + (sym - syms->start)`).
        """
        out: list[Export] = []
        for table, gpl in (("__ksymtab", False), ("__ksymtab_gpl", True)):
            sec = self._by_name.get(table)
            if sec is None:
                continue
            relocs = self._relocations_of(table)
            prel = not relocs or any(r.type == R_X86_64_PC32 for r in relocs.values())
            width = 4 if prel else 8
            crcs = self._data(table.replace("ksymtab", "kcrctab"))
            labels = {s.value: s.name[len("__ksymtab_"):] for s in self.symbols
                      if s.section == table and s.name.startswith("__ksymtab_")}
            for i in range(sec.size // (3 * width)):
                base = i * 3 * width
                name = self._string_at(*self._pointer_target(relocs, base + width))
                if name is None:
                    name = labels.get(base)
                if name is None:
                    continue
                ns = self._string_at(*self._pointer_target(relocs, base + 2 * width))
                crc = (struct.unpack_from("<I", crcs, 4 * i)[0]
                       if len(crcs) >= 4 * (i + 1) else None)
                out.append(Export(name, gpl, ns or None, crc))
        return out

    # ------------------------------------------------------------------ struct module
    @functools.cached_property
    def this_module(self) -> ThisModule | None:
        sec = self._by_name.get(".gnu.linkonce.this_module")
        if sec is None:
            return None
        data = self.section_data(sec)
        name = elf64.cstr(data[THIS_MODULE_NAME_OFFSET:THIS_MODULE_NAME_OFFSET + MODULE_NAME_LEN],
                          0)
        init = exit_ = None
        for rel in sorted(self._relocations_of(sec.name).values(), key=lambda r: r.offset):
            # scripts/mod/modpost.c writes `.init = init_module, .exit = cleanup_module`.
            if rel.symbol == "init_module" or (rel.symbol != "cleanup_module"
                                               and rel.offset == _INIT_OFFSET):
                init = rel.symbol
            elif rel.symbol == "cleanup_module" or rel.offset == _EXIT_OFFSET:
                exit_ = rel.symbol
        return ThisModule(name, init, exit_)

    # ------------------------------------------------------------------ signature
    @functools.cached_property
    def signature(self) -> ModuleSignature | None:
        return read_signature(self.raw)

    @property
    def elf_size(self) -> int:
        sig = self.signature
        if sig is not None:
            return len(self.raw) - sig.total_size
        from kcourse.elf.signature import find_trailer

        trailer = find_trailer(self.raw)
        return trailer.elf_size if trailer else len(self.raw)
