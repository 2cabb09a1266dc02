"""Real kbuild runs against the pinned kernel's headers (CI installs linux-headers-6.1.0-NN-amd64).

References: what kbuild/modpost themselves produce and print, read back with KoFile.
"""

import re
import subprocess
import textwrap

import pytest

from kcourse import pin
from kcourse.build.kbuild import (
    KbuildError,
    build_module,
    installed_releases,
    missing_headers_message,
    parse_kbuild,
)
from kcourse.build.kbuild_files import mod_c_versions, parse_symvers
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir
from tests.conftest import need, need_tool


@pytest.fixture(scope="module")
def release():
    need_tool("make")
    need_tool("gcc")
    need(pin.release() in installed_releases(),
         f"{pin.headers_package()} is not installed (apt-get install {pin.headers_package()})")
    return pin.release()


def test_hello(release, tmp_path):
    result = build_module(modules_dir() / "hello", release, out_dir=tmp_path / "hello")
    for name in ("hello.o", "hello.mod", "hello.mod.c", "hello.mod.o", "hello.ko",
                 "Module.symvers", "modules.order", ".hello.o.cmd", ".hello.ko.cmd"):
        assert name in result.generated
    ko = KoFile(tmp_path / "hello" / "hello.ko")
    assert ko.modinfo_get("vermagic").split()[0] == release
    mod_c = (tmp_path / "hello" / "hello.mod.c").read_text()
    assert mod_c_versions(mod_c) == ko.versions          # ____versions became __versions
    out = (tmp_path / "hello").resolve()
    assert (out / "modules.order").read_text() == f"{out}/hello.ko\n"
    assert (tmp_path / "hello" / "Module.symvers").read_text() == ""   # exports nothing
    committed = modules_dir() / "hello"
    if KoFile(committed / "hello.ko").modinfo_get("vermagic").split()[0] == release:
        assert mod_c == (committed / "hello.mod.c").read_text()


def test_two_modules_with_extra_symbols(release, tmp_path):
    build_module(modules_dir() / "provider", release, out_dir=tmp_path / "provider")
    symvers = tmp_path / "provider" / "Module.symvers"
    exported = {row.symbol: row for row in parse_symvers(symvers.read_text())}
    assert exported["provider_add"].export_type == "EXPORT_SYMBOL"
    result = build_module(modules_dir() / "consumer", release, out_dir=tmp_path / "consumer",
                          extra_symbols=[symvers])
    assert "consumer.ko" in result.generated
    consumer = KoFile(tmp_path / "consumer" / "consumer.ko")
    assert consumer.modinfo_get("depends") == "provider"
    used = set(consumer.versions) & set(exported)
    assert used and all(consumer.versions[s] == exported[s].crc for s in used)


def test_modpost_error_without_extra_symbols(release, tmp_path):
    (tmp_path / "provider").mkdir()       # consumer's ccflags-y needs ../provider/provider.h
    (tmp_path / "provider" / "provider.h").write_text(
        (modules_dir() / "provider" / "provider.h").read_text())
    with pytest.raises(KbuildError) as info:
        build_module(modules_dir() / "consumer", release, out_dir=tmp_path / "consumer")
    message = str(info.value)
    assert re.fullmatch(r'ERROR: modpost: "provider_\w+" \[.*/consumer/consumer\.ko\] '
                        r"undefined!", message), message
    assert not (tmp_path / "consumer" / "consumer.ko").exists()
    assert info.value.result.returncode != 0


def test_two_file_module(release, tmp_path):
    """The exercise's answer, checked by kbuild itself: obj-m := pair.o, pair-y := a.o b.o."""
    src = tmp_path / "src"
    src.mkdir()
    kbuild = "obj-m := pair.o\npair-y := part_a.o part_b.o\n"
    (src / "Kbuild").write_text(kbuild)
    (src / "part_a.c").write_text(textwrap.dedent("""\
        #include <linux/module.h>
        int pair_b(void);
        static int __init pair_init(void) { return pair_b(); }
        module_init(pair_init);
        MODULE_LICENSE("GPL");
        """))
    (src / "part_b.c").write_text("int pair_b(void);\nint pair_b(void) { return 0; }\n")
    spec = parse_kbuild(kbuild)
    result = build_module(src, release, out_dir=tmp_path / "out")
    assert [m.name + ".ko" for m in spec.modules] == [p.name for p in result.modules]
    listed = (tmp_path / "out" / "pair.mod").read_text().split()
    assert [p.rsplit("/", 1)[-1] for p in listed] == spec.modules[0].objects


def test_compile_error_is_one_line(release, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Kbuild").write_text("obj-m := broken.o\n")
    (src / "broken.c").write_text("#include <linux/module.h>\nint x = ;\n")
    with pytest.raises(KbuildError, match=r"broken\.c:2:\d+: error: "):
        build_module(src, release, out_dir=tmp_path / "out")


def test_missing_headers(tmp_path):
    with pytest.raises(KcourseError, match="no kernel headers for 0.0.0-none"):
        build_module(modules_dir() / "hello", "0.0.0-none", out_dir=tmp_path)
    with pytest.raises(KcourseError, match="name the kernel"):
        build_module(modules_dir() / "hello")


def test_make_says_what_the_model_says(tmp_path):
    need_tool("make")
    proc = subprocess.run(["make", "-C", "/lib/modules/0.0.0-none/build", f"M={tmp_path}",
                           "modules"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == missing_headers_message("0.0.0-none")
