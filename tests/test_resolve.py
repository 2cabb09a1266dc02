"""resolve_undefined: the kernel's outcomes for a module's undefined symbols.

Expectations come from the kernel source (Linux 6.1): kernel/module/main.c resolve_symbol,
find_exported_symbol_in_section (`if (!fsa->gplok && syms->license == GPL_ONLY) return
false`), simplify_symbols ("%s: Unknown symbol %s (err %d)", weak symbols are fine),
verify_namespace_is_imported; kernel/module/version.c check_version ("disagrees about
version of symbol"); include/linux/license.h; and from what the real 6.1.0-56 kernel
printed in the lab (../shared/notes/real-kernel-lab.md: "modB: Unknown symbol modA_add
(err -2)", "hello: disagrees about version of symbol module_layout").
"""

from __future__ import annotations

import pytest

from kcourse.elf.kofile import KoFile
from kcourse.elf.resolve import (
    check_module_layout,
    license_is_gpl_compatible,
    resolve_undefined,
)
from kcourse.elf.symvers import KernelSymbol, SymbolTable
from kcourse.paths import course_module


@pytest.fixture(scope="module")
def kernel() -> SymbolTable:
    return SymbolTable.shipped()


def ko(name: str) -> KoFile:
    return KoFile(course_module(name))


def table_with(base: SymbolTable, **changes) -> SymbolTable:
    """A copy of `base` with some symbols replaced: name=KernelSymbol."""
    changed = [changes.get(s.name, s) for s in base]
    return SymbolTable(changed, "test")


def test_hello_resolves_entirely_against_debians_kernel(kernel):
    results = resolve_undefined(ko("hello"), kernel)
    assert [r.symbol for r in results] == ko("hello").undefined_symbols
    assert {r.outcome for r in results} == {"found"}
    assert all(r.owner == "vmlinux" and r.ok and not r.messages for r in results)
    printk = next(r for r in results if r.symbol == "_printk")
    assert printk.expected_crc == printk.actual_crc == kernel.lookup("_printk").crc


def test_module_layout_matches_the_kernel_it_was_built_for(kernel):
    for name in ("hello", "provider", "consumer"):
        assert check_module_layout(ko(name), kernel).outcome == "found"


def test_consumer_without_provider_is_unknown_symbol(kernel):
    results = {r.symbol: r for r in resolve_undefined(ko("consumer"), kernel)}
    missing = results["provider_add"]
    assert missing.outcome == "not_found" and missing.errno == 2
    assert missing.messages == ("consumer: Unknown symbol provider_add (err -2)",)
    assert results["_printk"].outcome == "found"


def test_consumer_with_provider_loaded_resolves_to_it(kernel):
    table = kernel.merged(SymbolTable.from_module(ko("provider")))
    results = {r.symbol: r for r in resolve_undefined(ko("consumer"), table)}
    for sym in ("provider_add", "provider_secret", "provider_ns_hello"):
        assert results[sym].outcome == "found" and results[sym].owner == "provider"
    assert results["provider_ns_hello"].namespace == "KCOURSE"  # consumer imports KCOURSE


def test_gpl_only_symbol_is_invisible_to_a_proprietary_module(kernel):
    # proprietary.ko declares MODULE_LICENSE("Proprietary"); pretend _printk were GPL-only.
    printk = kernel.lookup("_printk")
    table = table_with(kernel, _printk=KernelSymbol("_printk", printk.crc, "vmlinux", True,
                                                    None))
    results = {r.symbol: r for r in resolve_undefined(ko("proprietary"), table)}
    assert results["_printk"].outcome == "gpl_only"
    assert results["_printk"].messages == ("proprietary: Unknown symbol _printk (err -2)",)
    # ... while a GPL module sees it.
    assert {r.outcome for r in resolve_undefined(ko("hello"), table)} == {"found"}


def test_licence_list_is_license_h():
    for ok in ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
               "Dual MPL/GPL"):
        assert license_is_gpl_compatible(ok)
    for bad in ("Proprietary", "GPLv2", "gpl", "MIT", "", None):
        assert not license_is_gpl_compatible(bad)


def test_crc_mismatch(kernel):
    printk = kernel.lookup("_printk")
    table = table_with(kernel, _printk=KernelSymbol("_printk", printk.crc ^ 1, "vmlinux",
                                                    False, None))
    result = next(r for r in resolve_undefined(ko("hello"), table) if r.symbol == "_printk")
    assert result.outcome == "crc_mismatch" and result.errno == 22
    assert result.messages == ("hello: disagrees about version of symbol _printk",
                               "hello: Unknown symbol _printk (err -22)")


def test_module_layout_mismatch(kernel):
    layout = kernel.lookup("module_layout")
    table = table_with(kernel, module_layout=KernelSymbol("module_layout", layout.crc + 1,
                                                          "vmlinux", False, None))
    result = check_module_layout(ko("hello"), table)
    assert result.outcome == "crc_mismatch"
    assert result.messages == ("hello: disagrees about version of symbol module_layout",)


def test_namespace_not_imported(kernel):
    provider = SymbolTable.from_module(ko("provider"))
    moved = [KernelSymbol(s.name, s.crc, s.module, s.gpl_only,
                          "OTHER_NS" if s.namespace else None) for s in provider]
    table = kernel.merged(SymbolTable(moved))
    results = {r.symbol: r for r in resolve_undefined(ko("consumer"), table)}
    bad = results["provider_ns_hello"]
    assert bad.outcome == "namespace_not_imported" and bad.errno == 22
    assert bad.messages[0] == ("consumer: module uses symbol (provider_ns_hello) from "
                               "namespace OTHER_NS, but does not import it.")


def test_exporter_without_crcs_is_accepted(kernel):
    # check_version: "Exporting module didn't supply crcs?  OK, we're already tainted."
    kallsyms = "ffffffff81000000 T _printk\nffffffff81000010 t local_thing\n"
    table = kernel.merged(SymbolTable.from_kallsyms(kallsyms))
    no_crc = table_with(table, _printk=KernelSymbol("_printk", None, "vmlinux", False, None))
    result = next(r for r in resolve_undefined(ko("hello"), no_crc) if r.symbol == "_printk")
    assert result.outcome == "found"


def test_weak_undefined_symbol_does_not_stop_the_load(kernel):
    # simplify_symbols: "Ok if weak or ignored."
    from kcourse.elf.resolve import resolve_symbol

    result = resolve_symbol(ko("hello"), kernel, "no_such_symbol_anywhere", weak=True)
    assert result.outcome == "not_found" and result.ok and result.messages == ()
    strong = resolve_symbol(ko("hello"), kernel, "no_such_symbol_anywhere")
    assert not strong.ok and strong.errno == 2
