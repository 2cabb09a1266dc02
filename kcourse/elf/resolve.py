"""Resolve a module's undefined symbols against a symbol table, with the kernel's outcomes.

The rules, in the kernel's order (Linux 6.1 kernel/module/main.c resolve_symbol and
simplify_symbols; kernel/module/version.c check_version):

1. find_symbol() runs with `gplok = !(taints & TAINT_PROPRIETARY_MODULE)`; a module whose
   licence is not GPL-compatible (include/linux/license.h license_is_gpl_compatible) does
   not see EXPORT_SYMBOL_GPL tables at all, so the symbol is "Unknown" (err -2)
   -> outcome "gpl_only" (or "not_found" when nobody exports it).
2. check_version(): when the exporter has a CRC and the module has __versions, the CRCs
   must match ("disagrees about version of symbol", err -22) -> "crc_mismatch". A name
   missing from __versions fails too in Debian's 6.1 tree ("no symbol version for"); with no
   __versions at all the load is forced (taint F, CONFIG_MODULE_FORCE_LOAD=y in Debian).
3. verify_namespace_is_imported(): a namespaced export needs MODULE_IMPORT_NS
   ("module uses symbol (%s) from namespace %s, but does not import it.", err -22)
   -> "namespace_not_imported".
An unresolved STB_WEAK symbol is not an error (simplify_symbols: "Ok if weak").
"""

from __future__ import annotations

from dataclasses import dataclass, field

# include/linux/license.h license_is_gpl_compatible()
GPL_COMPATIBLE = frozenset({
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
})

OUTCOMES = ("found", "gpl_only", "namespace_not_imported", "crc_mismatch", "not_found")
ENOENT, EINVAL = 2, 22


def license_is_gpl_compatible(license: str | None) -> bool:
    return license in GPL_COMPATIBLE


@dataclass(frozen=True)
class Resolution:
    symbol: str
    outcome: str  # one of OUTCOMES
    owner: str | None = None  # exporting module ("vmlinux" or a module name) when found
    weak: bool = False  # an unresolved weak symbol does not stop the load
    expected_crc: int | None = None  # the module's __versions CRC
    actual_crc: int | None = None  # the exporter's CRC
    namespace: str | None = None
    forced: bool = False  # resolved without CRC check: module has no __versions (taint F)
    messages: tuple[str, ...] = field(default=())  # the kernel's dmesg lines for a failure

    @property
    def ok(self) -> bool:
        """Does this symbol let the load go on?"""
        return self.outcome == "found" or (self.weak and self.outcome in ("not_found",
                                                                            "gpl_only"))

    @property
    def errno(self) -> int:
        """0, or the positive errno the kernel's "Unknown symbol ... (err -N)" line shows."""
        if self.ok:
            return 0
        return ENOENT if self.outcome in ("not_found", "gpl_only") else EINVAL


def _unknown(modname: str, name: str, err: int) -> str:
    # kernel/module/main.c simplify_symbols
    return f"{modname}: Unknown symbol {name} (err -{err})"


def resolve_symbol(ko, table, name: str, weak: bool = False) -> Resolution:
    """One symbol of `ko` against `table` (a kcourse.elf.symvers.SymbolTable)."""
    modname = ko.name
    gplok = license_is_gpl_compatible(ko.modinfo_get("license"))
    sym = table.lookup(name)
    if sym is None or (sym.gpl_only and not gplok):
        outcome = "not_found" if sym is None else "gpl_only"
        msgs = () if weak else (_unknown(modname, name, ENOENT),)
        return Resolution(name, outcome, weak=weak, messages=msgs,
                          actual_crc=sym.crc if sym else None)
    owner = sym.module_name
    versions = ko.versions
    forced = False
    if sym.crc is not None:
        if not versions and ko.get_section_by_name("__versions") is None:
            forced = True  # check_version: "No versions at all? modprobe --force does this."
        elif name not in versions:
            return Resolution(name, "crc_mismatch", owner, weak, None, sym.crc, sym.namespace,
                              messages=(f"{modname}: no symbol version for {name}",
                                        _unknown(modname, name, EINVAL)))
        elif versions[name] != sym.crc & 0xFFFFFFFF:
            return Resolution(name, "crc_mismatch", owner, weak, versions[name], sym.crc,
                              sym.namespace,
                              messages=(f"{modname}: disagrees about version of symbol {name}",
                                        _unknown(modname, name, EINVAL)))
    if sym.namespace and sym.namespace not in ko.modinfo_all("import_ns"):
        return Resolution(name, "namespace_not_imported", owner, weak, versions.get(name),
                          sym.crc, sym.namespace,
                          messages=(f"{modname}: module uses symbol ({name}) from namespace "
                                    f"{sym.namespace}, but does not import it.",
                                    _unknown(modname, name, EINVAL)))
    return Resolution(name, "found", owner, weak, versions.get(name), sym.crc, sym.namespace,
                      forced=forced)


def resolve_undefined(ko, table) -> list[Resolution]:
    """Every undefined GLOBAL/WEAK symbol of `ko`, in symbol-table order."""
    out = []
    seen = set()
    for sym in ko.symbols:
        if sym.shndx != 0 or sym.bind not in ("GLOBAL", "WEAK") or not sym.name:
            continue
        if sym.name in seen:
            continue
        seen.add(sym.name)
        out.append(resolve_symbol(ko, table, sym.name, weak=sym.bind == "WEAK"))
    return out


def check_module_layout(ko, table) -> Resolution | None:
    """check_modstruct_version(): the module_layout CRC in __versions against the kernel's.

    A mismatch means the module was built for another kernel build: the kernel logs
    "disagrees about version of symbol module_layout" and refuses with -ENOEXEC.
    Returns None when the module has no __versions entry for it (nothing to check).
    """
    if "module_layout" not in ko.versions:
        return None
    sym = table.lookup("module_layout")
    if sym is None or sym.crc is None:
        return Resolution("module_layout", "found" if sym else "not_found",
                          sym.module_name if sym else None)
    expected = ko.versions["module_layout"]
    if expected != sym.crc & 0xFFFFFFFF:
        return Resolution("module_layout", "crc_mismatch", sym.module_name, False, expected,
                          sym.crc, messages=(
                              f"{ko.name}: disagrees about version of symbol module_layout",))
    return Resolution("module_layout", "found", sym.module_name, False, expected, sym.crc)
