"""Module sizes and memory layout: kernel/module/main.c layout_sections and
kernel/module/kallsyms.c layout_symtab (Debian linux-source-6.1), CONFIG_STRICT_MODULE_RWX=y."""

import pytest

from kcourse.kernel import Kernel, ModuleState
from kcourse.kernel.image import parse_image, read_source, signature_status
from kcourse.kernel.layout import compute
from kcourse.paths import course_module


def image(name):
    source, raw = read_source(course_module(name))
    n, status, signer = signature_status(raw)
    return parse_image(source, raw, n, status, signer)


def test_hello_sizes_match_the_real_kernel():
    # real-kernel-lab.md: a hello.ko built against the same headers showed 16384 in
    # /proc/modules and lsmod once loaded (init freed)
    k = Kernel()
    k.finit_module(course_module("hello"))
    assert k.read_file("/proc/modules").split()[1] == "16384"
    assert k.read_file("/sys/module/hello/coresize") == "16384\n"


def test_core_passes_are_page_aligned():
    lay = compute(image("hello"))
    core, init = lay.core, lay.init
    # text | ro | ro_after_init | rw + core symtab copy, each pass ends on a page boundary
    assert core.text_size == 4096 and core.ro_size == 8192 and core.ro_after_init_size == 8192
    assert core.size == 16384
    assert all(x % 4096 == 0 for x in (core.size, init.size, init.text_size, init.ro_size))


def test_section_placement_rules():
    img = image("hello")
    lay = compute(img)
    by_name = {p.name: p for p in lay.placements.values()}
    assert by_name[".init.text"].init and by_name[".init.data"].init
    assert not by_name[".exit.text"].init  # CONFIG_MODULE_UNLOAD: exit code stays in core
    assert ".modinfo" not in by_name and "__versions" not in by_name  # rewrite_section_headers
    assert by_name[".symtab"].init and by_name[".strtab"].init  # layout_symtab
    assert by_name[".exit.text"].offset == 0  # the first executable core section
    with_versions = compute(img, ignore_modversions=True)
    # MODULE_INIT_IGNORE_MODVERSIONS: index.vers = 0, so __versions keeps SHF_ALLOC
    assert "__versions" in {p.name for p in with_versions.placements.values()}


def test_core_symbols_exclude_init_and_undefined():
    img = image("hello")
    lay = compute(img)
    names = {img.symbols[i][0] for i in lay.core_symbols}
    assert {"hello_exit", "count", "whom", "__this_module"} <= names
    assert "hello_init" not in names and "init_module" not in names  # in .init.text
    assert "_printk" not in names  # undefined


def test_init_memory_is_freed_after_init():
    k = Kernel()
    k.finit_module(course_module("provider"))
    mod = k.find_module("provider")
    assert mod.state == ModuleState.LIVE
    assert mod.init_layout.size == 0 and mod.init_layout.base == 0
    assert k.read_file("/sys/module/provider/initsize") == "0\n"


@pytest.mark.parametrize("era,keys", [
    ("4.4", {"module_core", "core_size", "module_init", "init_size"}),
    ("6.1", {"core_layout", "init_layout"}),
    ("6.4", {"mem"}),
])
def test_layout_views(era, keys):
    k = Kernel()
    k.finit_module(course_module("hello"))
    view = k.find_module("hello").layout_view(era)
    assert keys <= set(view)
    if era == "6.4":
        mem = view["mem"]
        assert set(mem) == {"MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT",
                            "MOD_INIT_TEXT", "MOD_INIT_DATA", "MOD_INIT_RODATA"}
        assert mem["MOD_INIT_TEXT"]["size"] == 0  # freed after init
        assert all(v["size"] % 4096 == 0 for v in mem.values())
    if era == "4.4":
        assert view["core_size"] == 16384 and view["module_init"] == 0


def test_addresses_in_the_module_area_and_seeded():
    a, b = Kernel(seed=7), Kernel(seed=7)
    for k in (a, b):
        k.finit_module(course_module("hello"))
    base = a.find_module("hello").core_layout.base
    assert base == b.find_module("hello").core_layout.base
    assert 0xFFFFFFFFC0000000 < base < 0xFFFFFFFFFF000000 and base % 4096 == 0


def test_debian_modules_load_untainted(debian_modules_dir):
    """Debian's own modules are in-tree (intree=Y) and signed by the build's key: no taint."""
    k = Kernel()
    for rel in ("kernel/drivers/usb/common/usb-common.ko", "kernel/drivers/usb/core/usbcore.ko"):
        k.finit_module(debian_modules_dir / rel)
    assert k.tainted == 0  # main.c check_modinfo: intree; signing.c: sig_ok -> no O, no E
    lines = k.read_file("/proc/modules").splitlines()
    assert lines[1].startswith("usb_common ") and " 1 usbcore, Live " in lines[1]
    assert all(int(line.split()[1]) % 4096 == 0 for line in lines)
