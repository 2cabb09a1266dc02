"""SymbolTable: Module.symvers, /proc/kallsyms text, a module's exports.

References: the shipped data/kernel/Module.symvers.xz, counted here with xz and awk (the
real tools); the Module.symvers modpost wrote for the course's provider module; the
/proc/kallsyms line format of kernel/kallsyms.c s_show ("%px %c %s\\t[%s]\\n").
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import need_tool
from kcourse.elf.kofile import KoFile
from kcourse.elf.symvers import SymbolTable
from kcourse.errors import KcourseError
from kcourse.paths import course_module, kernel_data_dir, modules_dir

SYMVERS = kernel_data_dir() / "Module.symvers.xz"


def awk_count(program: str) -> int:
    need_tool("xz")
    need_tool("awk")
    text = subprocess.run(["xz", "-dc", str(SYMVERS)], capture_output=True, check=True).stdout
    out = subprocess.run(["awk", "-F", "\t", program], input=text, capture_output=True,
                         check=True).stdout
    return int(out.strip() or 0)


def test_shipped_table_counts_match_awk():
    table = SymbolTable.shipped()
    assert len(table) == awk_count("END { print NR }")
    gpl = sum(s.gpl_only for s in table)
    assert gpl == awk_count('$4 == "EXPORT_SYMBOL_GPL" { n++ } END { print n }')
    assert sum(bool(s.namespace) for s in table) == awk_count('$5 != "" { n++ } END {print n}')


def test_lookup_matches_the_file():
    table = SymbolTable.shipped()
    need_tool("xz")
    text = subprocess.run(["xz", "-dc", str(SYMVERS)], capture_output=True, check=True,
                          text=True).stdout
    line = next(line for line in text.splitlines() if line.split("\t")[1] == "_printk")
    crc, name, module, kind, ns = line.split("\t")
    sym = table.lookup("_printk")
    assert (sym.crc, sym.module, sym.gpl_only, sym.namespace) == (
        int(crc, 16), module, kind == "EXPORT_SYMBOL_GPL", ns or None)
    assert "_printk" in table and "no_such_symbol" not in table
    assert table.lookup("no_such_symbol") is None


def test_from_symvers_reads_a_modpost_file():
    table = SymbolTable.from_symvers(modules_dir() / "provider" / "Module.symvers")
    assert {s.name for s in table} == {"provider_add", "provider_secret", "provider_ns_hello"}
    assert table.lookup("provider_ns_hello").namespace == "KCOURSE"
    assert table.lookup("provider_add").module_name == "provider"


def test_from_module_equals_modpost_output():
    ours = SymbolTable.from_module(KoFile(course_module("provider")))
    theirs = SymbolTable.from_symvers(modules_dir() / "provider" / "Module.symvers")
    assert {(s.name, s.crc, s.gpl_only, s.namespace) for s in ours} == {
        (s.name, s.crc, s.gpl_only, s.namespace) for s in theirs}
    assert {s.module for s in ours} == {"provider"}


def test_from_kallsyms_takes_uppercase_types():
    text = ("ffffffffc0a01000 t provider_helper\t[provider]\n"
            "ffffffffc0a01010 T provider_add\t[provider]\n"
            "ffffffff81000000 T _printk\n"
            "ffffffff82000000 D jiffies\n"
            "ffffffff82000000 b some_local\n")
    table = SymbolTable.from_kallsyms(text)
    assert {s.name for s in table} == {"provider_add", "_printk", "jiffies"}
    assert table.lookup("provider_add").module == "provider"
    assert table.lookup("_printk").module == "vmlinux" and table.lookup("_printk").crc is None


def test_merged_keeps_the_first_definition():
    a = SymbolTable.from_kallsyms("0 T foo\n0 T bar\n", source="a")
    b = SymbolTable.from_kallsyms("0 T foo\t[other]\n0 T baz\t[other]\n", source="b")
    merged = a.merged(b)
    assert len(merged) == 3 and merged.lookup("foo").module == "vmlinux"
    assert merged.lookup("baz").module == "other"


def test_bad_symvers_is_one_clear_error(tmp_path):
    bad = tmp_path / "Module.symvers"
    bad.write_text("0xzz\tfoo\tvmlinux\tEXPORT_SYMBOL\t\n")
    with pytest.raises(KcourseError, match="Module.symvers:1: bad CRC"):
        SymbolTable.from_symvers(bad)
    with pytest.raises(KcourseError):
        SymbolTable.from_symvers(tmp_path / "missing")
