"""ElfExplorer without a browser: its tables against binutils (readelf -S, nm -u), the shipped
Module.symvers, and kmod's modinfo; the freed-after-init rule against the kernel source."""

import re
import subprocess

import pytest

from conftest import need_tool
from kcourse.paths import course_module, kernel_data_dir
from kcourse.ui.elf_explorer import ElfExplorer
from kcourse.ui.render import escape


def readelf_sections(path):
    """[Nr, name, type, size (decimal), flags] per section from `readelf -S -W`."""
    out = subprocess.run([need_tool("readelf"), "-S", "-W", str(path)], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+(.*)$", line)
        if not m or m.group(1) == "0":
            continue
        rest = m.group(4).split()
        flags = rest[4] if len(rest) == 8 else ""
        rows.append([m.group(1), m.group(2), m.group(3), str(int(rest[2], 16)), flags])
    return rows


@pytest.mark.parametrize("name", ["hello", "provider", "consumer"])
def test_section_table_matches_readelf(name):
    path = course_module(name)
    panel = ElfExplorer(str(path))
    shown = [row[:5] for row in panel.model.section_rows()]
    assert shown == readelf_sections(path)
    for row in readelf_sections(path):
        assert f'data-key="{escape(row[1])}"' in panel.sections_view.value


def test_init_sections_are_the_ones_freed_after_init():
    # include/linux/init.h: __init -> .init.text, __initdata -> .init.data;
    # kernel/module/main.c module_init_layout_section(): strstarts(name, ".init").
    panel = ElfExplorer("hello")
    fate = {row[1]: row[5] for row in panel.model.section_rows()}
    assert fate[".init.text"] == "freed after init"
    assert fate[".init.data"] == "freed after init"
    # CONFIG_MODULE_UNLOAD=y in Debian: .exit.text stays (module_init_layout_section)
    assert fate[".exit.text"] == "kept until rmmod"
    assert fate[".text"] == "kept until rmmod"
    # rewrite_section_headers() clears SHF_ALLOC of .modinfo and __versions
    assert fate[".modinfo"] == "not loaded"
    assert fate["__versions"] == "not loaded"
    assert fate[".rela.init.text"] == "not loaded"  # no SHF_ALLOC


def symvers_names():
    import lzma

    text = lzma.open(kernel_data_dir() / "Module.symvers.xz", "rt").read()
    return {line.split("\t")[1] for line in text.splitlines() if line.count("\t") >= 3}


def test_undefined_symbols_are_nm_u_and_resolved_against_module_symvers():
    path = course_module("consumer")
    nm = subprocess.run([need_tool("nm"), "-u", str(path)], capture_output=True, text=True,
                        check=True).stdout.split()
    undefined = set(nm) - {"U"}
    panel = ElfExplorer(str(path))
    panel.symbol_filter.value = "undefined"
    rows = panel.model.symbol_rows("undefined")
    assert {r[1] for r in rows} == undefined
    exported = symvers_names()
    for r in rows:
        assert r[6].startswith("resolved") == (r[1] in exported), r
        assert f'data-key="{r[1]}"' in panel.symbols_view.value
    # provider's symbols are not in the kernel's table until provider is loaded
    assert any(r[6].startswith("unresolved") for r in rows)


def test_model_without_a_table_resolves_against_the_shipped_module_symvers():
    from kcourse.ui.elf_model import ElfModel

    model = ElfModel(course_module("hello"))  # table=None: kernel_table(), Debian's exports
    rows = model.symbol_rows("undefined")
    exported = symvers_names()
    assert rows and any(r[1] in exported for r in rows)
    for r in rows:
        assert r[6].startswith("resolved") == (r[1] in exported), r


def test_symbol_filter_changes_the_view():
    panel = ElfExplorer("hello")
    everything = panel.symbols_view.value
    panel.symbol_filter.value = "defined"
    assert "hello_init" in panel.symbols_view.value or "init_module" in panel.symbols_view.value
    assert 'data-key="_printk"' not in panel.symbols_view.value
    panel.symbol_filter.value = "undefined"
    assert 'data-key="_printk"' in panel.symbols_view.value
    assert panel.symbols_view.value != everything


def test_modinfo_tab_matches_kmod_modinfo():
    path = course_module("hello")
    fields = subprocess.run([need_tool("modinfo"), "-F", "license", str(path)],
                            capture_output=True, text=True, check=True).stdout.strip()
    panel = ElfExplorer(str(path))
    assert ["license", fields] in panel.model.modinfo_rows()
    parms = subprocess.run([need_tool("modinfo"), "-F", "parm", str(path)], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for line in parms:  # kmod prints "name:description (type)"
        name = line.split(":", 1)[0]
        assert f"{name}:" in panel.modinfo_view.value


def test_a_bad_file_shows_one_line_and_keeps_the_view(tmp_path):
    panel = ElfExplorer("hello")
    before = panel.sections_view.value
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"\x7fELF" + b"\0" * 10)
    panel.picker.value = str(bad)
    panel.open_button.click()
    assert "kc-error" in panel.title.value
    assert "bad.ko" in panel.title.value
    assert panel.sections_view.value == before
    assert panel.model.ko.name == "hello"


def test_with_a_kernel_loaded_modules_exports_resolve():
    from kcourse.kernel import Kernel

    kernel = Kernel(seed=0)
    panel = ElfExplorer("consumer", kernel=kernel)
    status = {r[1]: r[6] for r in panel.model.symbol_rows("undefined")}
    assert status["provider_add"].startswith("unresolved")
    kernel.finit_module(course_module("provider"))
    panel.open_button.click()
    status = {r[1]: r[6] for r in panel.model.symbol_rows("undefined")}
    # provider.c: EXPORT_SYMBOL(provider_add)
    assert status["provider_add"] == "resolved (provider)"
