"""kcourse.build.depmod against kmod's real depmod (kmod 30 on Debian 12), byte for byte.

`depmod -n -b BASE RELEASE` prints modules.dep, modules.alias, modules.softdep,
modules.symbols and modules.devname one after the other (tools/depmod.c: depmod_output with
out=stdout skips the .bin indexes); `kcourse depmod -n` must print the same bytes.
"""

import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kcourse.build import depmod
from kcourse.cli import main as cli_main
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir
from tests.conftest import course_module_names, need_tool

RELEASE = "6.1.0-56-amd64"


def real_depmod(base: Path, release: str, *args: str) -> subprocess.CompletedProcess:
    tool = need_tool("depmod")
    return subprocess.run([tool, *args, "-b", str(base), release], capture_output=True,
                          check=True, cwd=base)


def ours(base: Path, release: str, capsys) -> bytes:
    assert depmod.main(["-n", "-b", str(base), release]) == 0
    return capsys.readouterr().out.encode("utf-8", "surrogateescape")


def course_tree(base: Path, release: str = RELEASE) -> Path:
    """A tree with the course modules: some as 'kernel' modules listed in modules.order, the
    rest under extra/, a compressed one, and an updates/ copy that overrides kernel/."""
    root = base / "lib" / "modules" / release
    names = course_module_names()
    kernel, extra = names[: len(names) // 2], names[len(names) // 2:]
    order = []
    for name in kernel:
        dest = root / "kernel" / "drivers" / "kcourse" / f"{name}.ko"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(modules_dir() / name / f"{name}.ko", dest)
        order.append(f"kernel/drivers/kcourse/{name}.ko")
    (root / "modules.order").write_text("\n".join(reversed(order)) + "\n")
    (root / "extra").mkdir()
    for name in extra:
        data = (modules_dir() / name / f"{name}.ko").read_bytes()
        if name == extra[0]:
            (root / "extra" / f"{name}.ko.xz").write_bytes(
                lzma.compress(data, check=lzma.CHECK_CRC32))
        else:
            (root / "extra" / f"{name}.ko").write_bytes(data)
    (root / "updates").mkdir()
    shutil.copy(modules_dir() / kernel[0] / f"{kernel[0]}.ko", root / "updates")
    (root / "build").mkdir()              # skipped by depmod
    (root / "build" / "ignored.ko").write_bytes(b"not a module")
    return root


def test_course_modules(tmp_path, capsys):
    course_tree(tmp_path)
    real = real_depmod(tmp_path, RELEASE, "-n").stdout
    assert ours(tmp_path, RELEASE, capsys) == real
    dep_line = [line for line in real.decode().splitlines() if "consumer.ko:" in line]
    assert len(dep_line) == 1 and dep_line[0].endswith("/provider.ko")


def test_without_modules_order(tmp_path, capsys):
    root = course_tree(tmp_path)
    (root / "modules.order").unlink()
    assert ours(tmp_path, RELEASE, capsys) == real_depmod(tmp_path, RELEASE, "-n").stdout


def test_written_files(tmp_path):
    real_base, our_base = tmp_path / "real", tmp_path / "ours"
    course_tree(real_base)
    course_tree(our_base)
    real_depmod(real_base, RELEASE)
    assert depmod.main(["-b", str(our_base), RELEASE]) == 0
    for name in ("modules.dep", "modules.alias", "modules.softdep", "modules.symbols",
                 "modules.devname"):
        real = (real_base / "lib" / "modules" / RELEASE / name).read_bytes()
        assert (our_base / "lib" / "modules" / RELEASE / name).read_bytes() == real, name


def test_debian_tree(debian_modules_dir, tmp_path, capsys):
    """Debian's whole linux-image module tree (about 4000 modules) + the course modules."""
    release = debian_modules_dir.name
    root = tmp_path / "lib" / "modules" / release
    root.mkdir(parents=True)
    os.symlink(debian_modules_dir / "kernel", root / "kernel")   # followed, like fstatat()
    for name in ("modules.order", "modules.builtin"):
        shutil.copy(debian_modules_dir / name, root / name)
    (root / "extra").mkdir()
    for name in course_module_names():
        shutil.copy(modules_dir() / name / f"{name}.ko", root / "extra")
    (root / "updates").mkdir()
    shutil.copy(debian_modules_dir / "kernel" / "drivers" / "block" / "loop.ko",
                root / "updates")
    real = real_depmod(tmp_path, release, "-n").stdout
    got = ours(tmp_path, release, capsys)
    assert got == real
    dep = real.split(b"# Aliases extracted", 1)[0].decode()
    assert "updates/loop.ko:" in dep and "kernel/drivers/block/loop.ko" not in dep
    assert len(dep.splitlines()) > 3000


def test_priority_rules():
    # depmod.c depmod_module_is_higher_priority with the default search list ("updates")
    assert depmod.is_higher_priority("updates/a.ko", "kernel/a.ko", ("updates",))
    assert not depmod.is_higher_priority("kernel/a.ko", "updates/a.ko", ("updates",))
    assert depmod.is_higher_priority("kernel/a.ko", "extra/a.ko", ("updates",))  # first wins


def test_modname():
    assert depmod.path_to_modname("kernel/drivers/x/snd-hda-intel.ko.xz") == "snd_hda_intel"


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(KcourseError, match="one kernel release"):
        depmod.main(["-b", str(tmp_path)])
    with pytest.raises(KcourseError, match="unknown option"):
        depmod.main(["-x", RELEASE])
    with pytest.raises(KcourseError, match="could not open directory"):
        depmod.main(["-b", str(tmp_path), RELEASE])
    assert cli_main(["depmod", "-b", str(tmp_path), RELEASE]) == 1
    assert capsys.readouterr().err.count("\n") == 1
