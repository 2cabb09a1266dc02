"""kcourse.build.kbuild (parser, command) and kbuild_files over the committed real outputs.

The committed files in data/modules/<name>/ were produced by kbuild against Debian's 6.1
headers (scripts/build-modules.sh); the .ko files are read with KoFile, so each explanation is
checked against what the build really put into the module.
"""

import re

import pytest

from kcourse.build.kbuild import explain_make_command, first_error, parse_kbuild
from kcourse.build.kbuild_files import (
    explain_mod_c,
    mod_c_versions,
    parse_cmd,
    parse_symvers,
)
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir

TWO_PART = """\
# a Makefile that serves kbuild and a plain `make`
ifneq ($(KERNELRELEASE),)
obj-m := foo.o bar.o
foo-y := a.o \\
         b.o
foo-y += c.o
bar-objs := x.o y.o
ccflags-y := -I$(src)/include
ccflags-y += -DDEBUG
else
KDIR ?= /lib/modules/$(shell uname -r)/build
default:
\t$(MAKE) -C $(KDIR) M=$(PWD) modules
endif
"""


def test_parse_two_part_makefile():
    spec = parse_kbuild(TWO_PART)
    assert spec.kernelrelease_guard
    assert [(m.name, m.objects, m.composite) for m in spec.modules] == [
        ("foo", ["a.o", "b.o", "c.o"], True), ("bar", ["x.o", "y.o"], True)]
    assert spec.ccflags == ["-I$(src)/include", "-DDEBUG"]
    assert spec.outer_commands == ["$(MAKE) -C $(KDIR) M=$(PWD) modules"]
    assert "KDIR" not in spec.variables        # the else-branch is not kbuild's


@pytest.mark.parametrize("name", ["hello", "provider", "consumer"])
def test_parse_course_kbuild(name):
    spec = parse_kbuild((modules_dir() / name / "Kbuild").read_text())
    assert [m.name for m in spec.modules] == [name]
    assert spec.modules[0].sources == [f"{name}.c"] and not spec.modules[0].composite


def test_parse_variants():
    spec = parse_kbuild("obj-$(CONFIG_FOO) += foo.o\nobj-m += sub/\nobj-m += one.o\n"
                        "EXTRA_CFLAGS = -O1\n")
    assert [(m.name, m.condition) for m in spec.modules] == [("foo", "CONFIG_FOO"),
                                                             ("one", "m")]
    assert spec.ccflags == ["-O1"]
    with pytest.raises(KcourseError, match="cannot be both"):
        parse_kbuild("obj-m := foo.o\nfoo-y := foo.o bar.o\n")


def test_explain_make_command():
    parts = explain_make_command("make -C /lib/modules/$(uname -r)/build M=$(pwd) modules")
    assert [p for p, _ in parts] == ["make", "-C /lib/modules/$(uname -r)/build", "M=$(pwd)",
                                     "modules"]
    assert all(meaning for _, meaning in parts)


def test_first_error():
    out = "  CC [M]  x.o\nERROR: modpost: \"f\" [x.ko] undefined!\nmake[2]: *** [x] Error 1\n"
    assert first_error(out) == 'ERROR: modpost: "f" [x.ko] undefined!'
    assert first_error("make: *** nothing.  Stop.\n") == "make: *** nothing.  Stop."


@pytest.mark.parametrize("name", ["hello", "provider", "consumer"])
def test_every_mod_c_line_is_explained(name):
    rows = explain_mod_c((modules_dir() / name / f"{name}.mod.c").read_text())
    unexplained = [line for line, meaning in rows if not meaning]
    assert unexplained == []
    assert len(rows) > 20


@pytest.mark.parametrize("name", ["hello", "provider", "consumer"])
def test_mod_c_matches_the_built_module(name):
    folder = modules_dir() / name
    mod_c = (folder / f"{name}.mod.c").read_text()
    ko = KoFile(folder / f"{name}.ko")
    assert mod_c_versions(mod_c) == ko.versions            # ____versions -> __versions
    assert list(ko.versions)[-1] == "module_layout"
    depends = re.search(r'MODULE_INFO\(depends, "(.*)"\);', mod_c).group(1)
    assert ko.modinfo_get("depends") == depends
    assert ko.modinfo_get("name") == name                   # MODULE_INFO(name, ...)
    assert ko.this_module.name == name                      # __this_module's .name
    assert ko.this_module.init == "init_module"
    assert ko.get_section_by_name(".gnu.linkonce.this_module") is not None


def test_symbol_crc_lines_match_module_symvers_and_ksymtab():
    folder = modules_dir() / "provider"
    mod_c = (folder / "provider.mod.c").read_text()
    crcs = {sym: (int(crc, 16), gpl == "_gpl") for sym, crc, gpl in
            re.findall(r'SYMBOL_CRC\((\w+), (0x[0-9a-f]+), "(_gpl)?"\);', mod_c)}
    symvers = {row.symbol: row for row in parse_symvers((folder / "Module.symvers").read_text())}
    exports = {e.name: e for e in KoFile(folder / "provider.ko").exports}
    assert set(crcs) == set(symvers) == set(exports)
    for sym, (crc, gpl) in crcs.items():
        assert symvers[sym].crc == crc == exports[sym].crc
        assert (symvers[sym].export_type == "EXPORT_SYMBOL_GPL") == gpl == exports[sym].gpl_only
        assert (symvers[sym].namespace or None) == exports[sym].namespace


def test_cmd_files():
    folder = modules_dir() / "hello"
    obj = parse_cmd((folder / ".hello.o.cmd").read_text())
    assert obj.target.endswith("/hello.o") and obj.source.endswith("/hello.c")
    assert "-DKBUILD_MODNAME='\"hello\"'" in obj.command and "-DMODULE" in obj.command
    assert any(d.endswith("include/linux/module.h") for d in obj.deps)
    assert any(d.startswith("$(wildcard include/config/") for d in obj.deps)
    ko = parse_cmd((folder / ".hello.ko.cmd").read_text())
    assert ko.command.startswith("ld -r ") and "arch/x86/module.lds" in ko.command
    assert ko.deps == []
    with pytest.raises(ValueError):
        parse_cmd("hello\n")


def test_mod_and_order_files():
    folder = modules_dir() / "hello"
    assert (folder / "hello.mod").read_text().split()[0].endswith("/hello.o")
    assert (folder / "modules.order").read_text().strip().endswith("/hello.ko")
    assert (folder / "Module.symvers").read_text() == ""
