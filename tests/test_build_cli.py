"""`kcourse build [DIR]` and the pinned headers fetched without root.

References: what kbuild itself writes (kmod's modinfo reads the .ko's vermagic back), and the
layout of Debian's three build packages (their Makefile's absolute include, measured in
shared/notes/emulation.md).
"""

import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from kcourse import pin
from kcourse.build import build_cli, headers
from tests.conftest import need, need_tool

FIRST_MODULE = textwrap.dedent("""\
    #include <linux/init.h>
    #include <linux/module.h>

    static int __init first_init(void)
    {
    \tpr_info("first: loaded\\n");
    \treturn 0;
    }

    static void __exit first_exit(void)
    {
    \tpr_info("first: unloaded\\n");
    }

    module_init(first_init);
    module_exit(first_exit);
    MODULE_LICENSE("GPL");
    """)


def kcourse(*args, cwd):
    return subprocess.run([sys.executable, "-m", "kcourse.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def real_build():
    need_tool("make")
    need_tool("gcc-12")
    need(headers.installed_tree(pin.release()) is not None or shutil.which("apt-get"),
         f"neither {pin.headers_package()} nor apt-get is here")


def test_build_in_the_current_folder_leaves_the_ko_there(real_build, tmp_path):
    (tmp_path / "first.c").write_text(FIRST_MODULE)
    (tmp_path / "Kbuild").write_text("obj-m := first.o\n")
    proc = kcourse("build", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "  LD [M]  " in proc.stdout and "first.ko" in proc.stdout  # kbuild's own output
    ko = tmp_path / "first.ko"
    assert ko.exists() and (tmp_path / "first.mod.c").exists()
    modinfo = need_tool("modinfo")
    vermagic = subprocess.run([modinfo, "-F", "vermagic", str(ko)], capture_output=True,
                              text=True, check=True).stdout
    assert vermagic.split(" ", 1)[0] == pin.release()


def test_a_compiler_error_is_kbuilds_own_line_and_exit_1(real_build, tmp_path):
    (tmp_path / "broken.c").write_text(FIRST_MODULE.replace("return 0;", "return zero;"))
    (tmp_path / "Kbuild").write_text("obj-m := broken.o\n")
    proc = kcourse("build", str(tmp_path), cwd="/")
    assert proc.returncode == 1
    assert re.search(r"broken.c:7:\d+: error: .zero. undeclared", proc.stdout)  # gcc's line
    assert proc.stderr.strip().splitlines()[-1].startswith("kcourse build: ")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "broken.ko").exists()


@pytest.mark.parametrize("args, message", [
    (["/nonexistent"], "kcourse build: /nonexistent: no such folder"),
    (["a", "b"], "kcourse build: usage: kcourse build [DIR] (got a b)"),
    (["--force"], "kcourse build: usage: kcourse build [DIR] (got --force)"),
])
def test_bad_arguments_give_one_line(tmp_path, args, message):
    proc = kcourse("build", *args, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", message + "\n")


def test_a_folder_without_kbuild_says_what_it_needs(tmp_path):
    proc = kcourse("build", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ("kcourse build: . has no Kbuild or Makefile (one line "
                           "`obj-m := NAME.o` is enough)\n")


def test_a_missing_compiler_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "gcc-12" else "/bin/x")
    assert build_cli.missing_tool() == "gcc-12 is not installed (apt-get install gcc-12)"


@pytest.mark.network
def test_headers_fetched_into_the_cache_build_a_module(tmp_path, monkeypatch):
    """No /usr/src needed: Debian's three packages, unpacked into the cache, make a tree kbuild
    accepts, and the only absolute path (the Makefile's include of -common) points inside."""
    need(shutil.which("apt-get") is not None, "apt-get is not installed")
    need_tool("make")
    need_tool("gcc-12")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tree = headers.fetch_tree(pin.release())
    assert tree.is_relative_to(tmp_path / "cache" / "kcourse" / "headers")
    makefile = (tree / "Makefile").read_text()
    assert f"include {tree.parent}/linux-headers-{pin.abi()}-common/Makefile" in makefile
    assert (tree / "scripts" / "mod" / "modpost").exists()   # the relative link resolves
    assert headers.fetch_tree(pin.release()) == tree          # cached
    from kcourse.build.kbuild import build_module

    src = tmp_path / "src"
    src.mkdir()
    (src / "first.c").write_text(FIRST_MODULE)
    (src / "Kbuild").write_text("obj-m := first.o\n")
    result = build_module(src, kdir=tree, out_dir=src)
    assert [ko.name for ko in result.modules] == ["first.ko"]
