"""The kernel's exported-symbol table: vmlinux's exports plus those of loaded modules.

kernel/module/main.c find_symbol() searches vmlinux's __ksymtab, then __ksymtab_gpl, then
every formed module in list order (its syms, then gpl_syms). A lookup for a module whose
licence is not GPL-compatible passes gplok=false, so GPL-only tables are skipped and the
symbol looks "unknown". Each hit carries the exporter's CRC (checked against the importing
module's __versions by check_version) and its namespace (verify_namespace_is_imported).

vmlinux's exports come from Debian's Module.symvers (data/kernel/Module.symvers.xz), read
through kcourse.elf.symvers.SymbolTable.shipped(); rows owned by in-tree modules are ignored
here, because those symbols only exist once their module is loaded.
"""

from __future__ import annotations

import functools
import lzma
from dataclasses import dataclass

from kcourse.paths import kernel_data_dir


@dataclass(frozen=True)
class Found:
    """struct find_symbol_arg's outputs: owner (None = vmlinux), crc, license, namespace."""

    name: str
    owner: object  # Module or None
    crc: int | None
    gpl_only: bool
    namespace: str | None


@functools.lru_cache(maxsize=1)
def vmlinux_exports() -> dict[str, tuple[int | None, bool, str | None]]:
    """name -> (crc, gpl_only, namespace) for every symbol vmlinux exports."""
    path = kernel_data_dir() / "Module.symvers.xz"
    out: dict[str, tuple[int | None, bool, str | None]] = {}
    with lzma.open(path, "rt", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4 or fields[2] != "vmlinux":
                continue
            crc = int(fields[0], 16) if fields[0] else None
            ns = fields[4] if len(fields) > 4 and fields[4] else None
            out[fields[1]] = (crc, fields[3].endswith("_GPL"), ns)
    return out


class KernelSymbols:
    """vmlinux exports + an index of the exports of loaded (formed) modules."""

    def __init__(self, base: dict | None = None):
        self.base = vmlinux_exports() if base is None else base
        self._by_module: dict[str, object] = {}  # symbol -> exporting Module

    def add_module(self, module) -> None:
        for exp in module.exports:
            self._by_module[exp.name] = module

    def remove_module(self, module) -> None:
        for exp in module.exports:
            if self._by_module.get(exp.name) is module:
                del self._by_module[exp.name]

    def find(self, name: str, gplok: bool = True) -> Found | None:
        """main.c find_symbol."""
        hit = self.base.get(name)
        if hit is not None:
            crc, gpl, ns = hit
            if gplok or not gpl:
                return Found(name, None, crc, gpl, ns)
            return None
        owner = self._by_module.get(name)
        if owner is None or owner.state == 3:  # MODULE_STATE_UNFORMED is skipped
            return None
        exp = owner.export(name)
        if exp.gpl_only and not gplok:
            return None
        return Found(name, owner, exp.crc, exp.gpl_only, exp.namespace)

    def __contains__(self, name: str) -> bool:
        return name in self.base or name in self._by_module
