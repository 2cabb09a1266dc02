"""The course modules in data/modules/ and the kernel data in data/kernel/ are real and agree.

References, read independently of kcourse's own code:
- kmod's `modinfo -F <field>` for vermagic, depends, import_ns, license;
- pyelftools for the raw `__versions` and `.modinfo` sections and the symbol table;
- Debian's Module.symvers (data/kernel/Module.symvers.xz; compared with the installed
  headers' copy when they are present);
- the kernel headers themselves: a rebuild with scripts/build-modules.sh must give the
  same `.modinfo` as the committed .ko.
"""

import json
import lzma
import os
import struct
import subprocess
from functools import cache
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.conftest import need, need_tool

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "data" / "modules"
KERNEL = ROOT / "data" / "kernel"

# The modules the course is built on (see data/modules/README.md). gplviolator has sources
# but no .ko: modpost refuses to build it, and its error text is the artifact.
COURSE = [
    "baduser", "consumer", "failinit", "hello", "kcdev", "leaker", "locked",
    "noexit", "noleak", "proprietary", "provider", "racy", "stackhog",
]
NOT_BUILDABLE = ["gplviolator"]

# include/linux/module.h: struct modversion_info { unsigned long crc; char name[MODULE_NAME_LEN]; }
# with MODULE_NAME_LEN = 64 - sizeof(unsigned long) = 56 on x86_64.
MODVERSION_INFO = struct.Struct("<Q56s")


@cache
def kernel_json() -> dict:
    return json.loads((KERNEL / "kernel.json").read_text())


def parse_symvers(text: str) -> dict[str, tuple[int, str, str, str]]:
    """Module.symvers: <CRC>\\t<symbol>\\t<module>\\t<export type>\\t<namespace>
    (Documentation/kbuild/modules.rst, "Symbols and External Modules")."""
    table = {}
    for line in text.splitlines():
        crc, name, module, kind, namespace = line.split("\t")
        table[name] = (int(crc, 16), module, kind, namespace)
    return table


@cache
def kernel_symvers() -> dict[str, tuple[int, str, str, str]]:
    return parse_symvers(lzma.decompress((KERNEL / "Module.symvers.xz").read_bytes()).decode())


def section_bytes(ko: Path, name: str) -> bytes:
    with ko.open("rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        assert sec is not None, f"{ko.name} has no {name} section"
        return sec.data()


def versions(ko: Path) -> dict[str, int]:
    """The __versions table the loader checks (kernel/module/version.c: check_version)."""
    data = section_bytes(ko, "__versions")
    assert len(data) % MODVERSION_INFO.size == 0
    out = {}
    for off in range(0, len(data), MODVERSION_INFO.size):
        crc, raw = MODVERSION_INFO.unpack_from(data, off)
        out[raw.split(b"\0", 1)[0].decode()] = crc
    return out


def modinfo_field(ko: Path, field: str) -> list[str]:
    """kmod's `modinfo -F field` (one value per line; vermagic keeps its trailing space)."""
    need_tool("modinfo")
    out = subprocess.run(
        ["modinfo", "-F", field, str(ko)], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def ko(name: str) -> Path:
    return MODULES / name / f"{name}.ko"


# ---- layout -------------------------------------------------------------------------------


def test_every_module_folder_is_listed():
    folders = sorted(p.parent.name for p in MODULES.glob("*/Kbuild"))
    assert folders == sorted(COURSE + NOT_BUILDABLE)


@pytest.mark.parametrize("name", COURSE + NOT_BUILDABLE)
def test_folder_has_source_kbuild_and_makefile(name):
    d = MODULES / name
    src = (d / f"{name}.c").read_text()
    assert src.startswith("// SPDX-License-Identifier: GPL-2.0\n")
    assert " * Prints" in src, "every module documents its printk lines"
    assert "obj-m := " + name + ".o" in (d / "Kbuild").read_text().splitlines()
    assert "$(MAKE) -C $(KDIR) M=$(CURDIR) modules" in (d / "Makefile").read_text()


@pytest.mark.parametrize("name", COURSE)
def test_built_files_are_present(name):
    d = MODULES / name
    for f in [f"{name}.ko", f"{name}.mod.c", f"{name}.mod", "Module.symvers", "modules.order",
              f".{name}.ko.cmd", f".{name}.mod.o.cmd", f".{name}.o.cmd"]:
        assert (d / f).is_file(), f"{name}/{f} missing"
    # modules.order (6.1) lists the .ko path in the fixed build folder.
    assert (d / "modules.order").read_text() == f"/tmp/kcourse-build/{name}/{name}.ko\n"


@pytest.mark.parametrize("name", COURSE)
def test_ko_is_stripped_like_debian(name):
    with ko(name).open("rb") as f:
        names = [s.name for s in ELFFile(f).iter_sections()]
    assert not [n for n in names if n.startswith(".debug_")]
    assert ".modinfo" in names and ".gnu.linkonce.this_module" in names


def test_gplviolator_was_refused_by_modpost():
    d = MODULES / "gplviolator"
    assert not (d / "gplviolator.ko").exists()
    # scripts/mod/modpost.c: check_exports (6.1; older kernels: check_for_gpl_usage)
    text = (d / "modpost-error.txt").read_text()
    assert (
        "ERROR: modpost: GPL-incompatible module gplviolator.ko uses GPL-only symbol "
        "'kernel_fpu_begin_mask'" in text.splitlines()
    )
    # ...and the symbol really is GPL-only in this kernel.
    assert kernel_symvers()["kernel_fpu_begin_mask"][2] == "EXPORT_SYMBOL_GPL"


def test_stackhog_frame_warning_was_recorded():
    text = (MODULES / "stackhog" / "build-warnings.txt").read_text()
    # CONFIG_FRAME_WARN=2048 becomes gcc's -Wframe-larger-than=2048.
    assert "is larger than 2048 bytes [-Wframe-larger-than=]" in text


# ---- agreement with the kernel ------------------------------------------------------------


@pytest.mark.parametrize("name", COURSE)
def test_vermagic_matches_kernel(name):
    assert modinfo_field(ko(name), "vermagic") == [kernel_json()["vermagic"]]


@pytest.mark.parametrize("name", COURSE)
def test_module_layout_crc_matches_module_symvers(name):
    crc, module, kind, _ = kernel_symvers()["module_layout"]
    assert module == "vmlinux" and kind == "EXPORT_SYMBOL"
    assert versions(ko(name))["module_layout"] == crc


@pytest.mark.parametrize("name", COURSE)
def test_every_imported_crc_matches_its_exporter(name):
    """Each __versions entry carries the CRC of the symbol it was built against: the
    kernel's (data/kernel/Module.symvers.xz) or provider's (provider/Module.symvers)."""
    provider = parse_symvers((MODULES / "provider" / "Module.symvers").read_text())
    for sym, crc in versions(ko(name)).items():
        table = kernel_symvers() if sym in kernel_symvers() else provider
        assert sym in table, f"{name} imports unknown {sym}"
        assert table[sym][0] == crc, f"{name}: CRC of {sym}"


def test_kernel_json_facts_come_from_module_symvers():
    facts = kernel_json()
    crc = kernel_symvers()["module_layout"][0]
    assert int(facts["module_layout_crc"], 16) == crc
    assert facts["exports"]["total"] == len(kernel_symvers())
    assert facts["page_size"] == 4096
    assert facts["vermagic"].startswith(facts["release"] + " ")


def test_kernel_data_equals_installed_headers():
    """Module.symvers.xz and config.xz are the headers' own files, unchanged."""
    headers = Path("/usr/src") / f"linux-headers-{kernel_json()['release']}"
    need(headers.is_dir(), f"{headers} is not installed")
    assert lzma.decompress((KERNEL / "Module.symvers.xz").read_bytes()) == (
        headers / "Module.symvers"
    ).read_bytes()
    config = lzma.decompress((KERNEL / "config.xz").read_bytes())
    assert config == (headers / ".config").read_bytes()
    for key, value in kernel_json()["config"].items():
        lines = config.decode().splitlines()
        if value is None:
            assert f"# {key} is not set" in lines or not any(
                line.startswith(key + "=") for line in lines
            )
        else:
            assert any(line in (f"{key}={value}", f'{key}="{value}"') for line in lines), key


# ---- the lessons' claims about particular modules -----------------------------------------


def test_consumer_depends_on_provider():
    assert modinfo_field(ko("consumer"), "depends") == ["provider"]
    assert modinfo_field(ko("consumer"), "import_ns") == ["KCOURSE"]
    assert set(versions(ko("consumer"))) >= {"provider_add", "provider_secret",
                                             "provider_ns_hello"}


def test_provider_exports_three_kinds():
    table = parse_symvers((MODULES / "provider" / "Module.symvers").read_text())
    kinds = {sym: (kind, ns) for sym, (_, _, kind, ns) in table.items()}
    assert kinds == {
        "provider_add": ("EXPORT_SYMBOL", ""),
        "provider_secret": ("EXPORT_SYMBOL_GPL", ""),
        "provider_ns_hello": ("EXPORT_SYMBOL_GPL", "KCOURSE"),
    }


def test_only_provider_exports():
    for name in COURSE:
        if name != "provider":
            assert (MODULES / name / "Module.symvers").read_text() == "", name


def test_proprietary_uses_no_gpl_only_symbol():
    assert modinfo_field(ko("proprietary"), "license") == ["Proprietary"]
    kinds = {kernel_symvers()[s][2] for s in versions(ko("proprietary"))}
    assert kinds == {"EXPORT_SYMBOL"}


def test_hello_parameters_and_version():
    assert modinfo_field(ko("hello"), "parm") == [
        "whom:Who to greet (default: world) (charp)",
        "count:A number shown in the greeting (default: 1) (int)",
    ]
    assert modinfo_field(ko("hello"), "version") == ["1.0"]
    assert modinfo_field(ko("hello"), "license") == ["GPL"]


def symbol_names(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}


def test_noexit_has_no_exit_function():
    # module_exit(fn) defines cleanup_module as an alias of fn (include/linux/module.h);
    # without it .mod.c's ".exit = cleanup_module" stays a NULL weak reference.
    assert "cleanup_module" not in symbol_names(ko("noexit"))
    assert "cleanup_module" in symbol_names(ko("hello"))
    assert "init_module" in symbol_names(ko("noexit"))


def test_leaker_forgets_kfree_and_noleak_does_not():
    assert "kfree" not in versions(ko("leaker"))
    assert "kfree" in versions(ko("noleak"))


# ---- rebuilding ---------------------------------------------------------------------------


def test_rebuilding_hello_gives_the_same_modinfo(tmp_path):
    """scripts/build-modules.sh OUTPUT hello, against the committed release's headers."""
    for tool in ("make", "gcc", "strip", "flock"):
        need_tool(tool)
    kdir = Path("/usr/src") / f"linux-headers-{kernel_json()['release']}"
    need((kdir / "Makefile").is_file(), f"{kdir} is not installed")
    env = dict(os.environ, KDIR=str(kdir))
    proc = subprocess.run(
        [str(ROOT / "scripts" / "build-modules.sh"), str(tmp_path), "hello"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rebuilt = tmp_path / "hello" / "hello.ko"
    assert section_bytes(rebuilt, ".modinfo") == section_bytes(ko("hello"), ".modinfo")
    assert (tmp_path / "hello" / "hello.mod.c").read_text() == (
        MODULES / "hello" / "hello.mod.c"
    ).read_text()
    # Only OUTPUT was written: no sources were copied there.
    assert sorted(p.name for p in (tmp_path / "hello").iterdir()) == sorted(
        ["hello.ko", "hello.mod.c", "hello.mod", "Module.symvers", "modules.order",
         ".hello.ko.cmd", ".hello.mod.o.cmd", ".hello.o.cmd"]
    )
