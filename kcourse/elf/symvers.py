"""Exported-symbol tables: what undefined symbols of a module are resolved against.

Sources: a Module.symvers file (what kbuild writes and Debian ships in linux-headers; tab
separated `crc name module export-type namespace`, scripts/mod/modpost.c write_dump), the
`/proc/kallsyms` text of a running kernel (no CRCs, no licence), or the exports of a .ko
(`__ksymtab*`, see KoFile.exports).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kcourse.errors import KcourseError

MAX_TEXT = 64 * 1024 * 1024


@dataclass(frozen=True)
class KernelSymbol:
    name: str
    crc: int | None
    module: str  # "vmlinux" or the module's path without .ko (Module.symvers) / its name
    gpl_only: bool
    namespace: str | None

    @property
    def module_name(self) -> str:
        """The owner's module name as lsmod shows it ('vmlinux' for the kernel itself)."""
        return Path(self.module).name.replace("-", "_")


def _read_text(path: Path) -> str:
    """A text file, transparently un-xz'd / un-gz'd / un-zstd'd (bounded)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KcourseError(f"{path}: {err.strerror or err}") from None
    from kcourse.elf import image

    kind = image.compression_of(data[:8])
    try:
        if kind == "xz":
            import lzma

            dec = lzma.LZMADecompressor()
            data = dec.decompress(data, max_length=MAX_TEXT)
        elif kind == "gz":
            import zlib

            data = zlib.decompressobj(wbits=31).decompress(data, MAX_TEXT)
        elif kind == "zst":
            import io

            import zstandard

            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(MAX_TEXT)
    except Exception as err:  # lzma.LZMAError, zlib.error, zstandard.ZstdError
        raise KcourseError(f"{path}: bad {kind} stream: {err}") from None
    return data.decode("utf-8", "replace")


class SymbolTable:
    """Exported symbols by name. The first definition of a name wins (the kernel refuses a
    module that exports a name already exported: kernel/module/main.c verify_exported_symbols)."""

    def __init__(self, symbols: Iterable[KernelSymbol] = (), source: str = ""):
        self._symbols: dict[str, KernelSymbol] = {}
        for sym in symbols:
            self._symbols.setdefault(sym.name, sym)
        self.source = source

    # ------------------------------------------------------------------ constructors
    @classmethod
    def shipped(cls) -> SymbolTable:
        """data/kernel/Module.symvers.xz: Debian's vmlinux and in-tree module exports."""
        from kcourse.paths import kernel_data_dir

        path = kernel_data_dir() / "Module.symvers.xz"
        if not path.exists():
            raise KcourseError(f"{path}: the shipped symbol table is missing")
        return cls.from_symvers(path)

    @classmethod
    def from_symvers(cls, path: str | os.PathLike) -> SymbolTable:
        return cls.parse_symvers(_read_text(Path(path)), source=str(path))

    @classmethod
    def parse_symvers(cls, text: str, source: str = "Module.symvers") -> SymbolTable:
        symbols = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 4:
                raise KcourseError(f"{source}:{lineno}: expected 'crc name module type [ns]'")
            crc_text, name, module, kind = fields[:4]
            namespace = fields[4].strip() if len(fields) > 4 else ""
            try:
                crc = int(crc_text, 16)
            except ValueError:
                raise KcourseError(f"{source}:{lineno}: bad CRC {crc_text!r}") from None
            symbols.append(KernelSymbol(name, crc, module, kind.endswith("_GPL"),
                                        namespace or None))
        return cls(symbols, source)

    @classmethod
    def from_kallsyms(cls, text: str, source: str = "/proc/kallsyms") -> SymbolTable:
        """/proc/kallsyms lines `addr type name [module]`; an uppercase type letter counts
        as exported (kernel/kallsyms.c s_show). No CRCs and no licence are known."""
        symbols = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 3 or not parts[1].isalpha() or not parts[1].isupper():
                continue
            module = parts[3].strip("[]") if len(parts) > 3 else "vmlinux"
            symbols.append(KernelSymbol(parts[2], None, module, False, None))
        return cls(symbols, source)

    @classmethod
    def from_module(cls, ko) -> SymbolTable:
        """A module's own exports (KoFile.exports); the owner is its module name."""
        return cls((KernelSymbol(e.name, e.crc, ko.name, e.gpl_only, e.namespace)
                    for e in ko.exports), source=str(ko.path))

    # ------------------------------------------------------------------ queries
    def lookup(self, name: str) -> KernelSymbol | None:
        return self._symbols.get(name)

    def merged(self, other: SymbolTable) -> SymbolTable:
        """A new table with this table's symbols, then `other`'s that are not already here."""
        return SymbolTable([*self._symbols.values(), *other], f"{self.source}+{other.source}")

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, name: object) -> bool:
        return name in self._symbols

    def __iter__(self) -> Iterator[KernelSymbol]:
        return iter(self._symbols.values())

    def __repr__(self) -> str:
        return f"SymbolTable({len(self)} symbols from {self.source or '?'})"
