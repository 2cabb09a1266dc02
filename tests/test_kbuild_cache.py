"""kcourse.build.kbuild_cache: an identical build is replayed, any changed input runs make.

Every expectation is what the real kbuild did: the first build of each case runs make, and
the cached one must give back exactly its files and output; a change to a source, to a header
the module includes from outside its folder, or to a Module.symvers modpost read must run make
again (fixdep's and modpost's own records, scripts/basic/fixdep.c, scripts/Makefile.modpost).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from conftest import need
from kcourse.build import kbuild_cache
from kcourse.build.cell import build_cell

HELLO = """\
#include <linux/module.h>
#include "extra.h"

static int __init c_init(void) { pr_info("cache says %s\\n", WORD); return 0; }
module_init(c_init);
MODULE_LICENSE("GPL");
"""


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KCOURSE_BUILD_CACHE", raising=False)
    return tmp_path / "xdg" / "kcourse" / "kbuild"


@pytest.fixture
def make_runs(monkeypatch):
    """How many times make really ran."""
    runs = []
    real = subprocess.run

    def counting(cmd, *args, **kwargs):
        if cmd and cmd[0] == "make":
            runs.append(cmd)
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)
    return runs


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def build(tmp_path, word="one", source=HELLO, name="cached"):
    include = tmp_path / "inc"
    include.mkdir(exist_ok=True)
    (include / "extra.h").write_text(f'#define WORD "{word}"\n')
    built = build_cell(name, source, [f"ccflags-y := -I{include}"], base=tmp_path / "work")
    need(not built.problem, built.problem)
    return built


def test_a_second_identical_build_gives_back_the_first_builds_files_and_output(
        tmp_path, cache_home, make_runs):
    first = build(tmp_path)
    assert first.ok, first.output
    assert len(make_runs) == 1
    assert "LD [M]" in first.output
    files = files_of(first.folder)
    assert {"cached.ko", "cached.o", "cached.mod.c", ".cached.o.cmd"} <= set(files)
    again = build(tmp_path)
    assert len(make_runs) == 1  # replayed
    assert again.output == first.output
    assert files_of(again.folder) == files


def test_a_changed_header_outside_the_folder_runs_make_again(tmp_path, cache_home, make_runs):
    build(tmp_path, "kc-first")
    changed = build(tmp_path, "kc-second")
    assert len(make_runs) == 2
    assert b"kc-second\0" in changed.ko.read_bytes()
    assert b"kc-first\0" not in changed.ko.read_bytes()
    build(tmp_path, "kc-second")
    assert len(make_runs) == 2


def test_a_changed_source_runs_make_again(tmp_path, cache_home, make_runs):
    build(tmp_path)
    build(tmp_path, source=HELLO.replace("cache says", "cache said"))
    assert len(make_runs) == 2


def test_a_failed_build_is_replayed_with_its_errors(tmp_path, cache_home, make_runs):
    broken = HELLO.replace("return 0;", "return nope;")
    first = build(tmp_path, source=broken)
    assert not first.ok and "error: " in first.output and "nope" in first.output
    again = build(tmp_path, source=broken)
    assert len(make_runs) == 1
    assert not again.ok and again.output == first.output
    assert not again.ko.exists()


def test_a_changed_module_symvers_from_another_module_runs_make_again(
        tmp_path, cache_home, make_runs):
    work = tmp_path / "work"
    provider = """\
#include <linux/module.h>
int prov_add(int a, int b) { return a + b; }
EXPORT_SYMBOL(prov_add);
MODULE_LICENSE("GPL");
"""
    consumer = """\
#include <linux/module.h>
int prov_add(int a, int b);
static int __init c_init(void) { return prov_add(0, 0); }
module_init(c_init);
MODULE_LICENSE("GPL");
"""
    extra = ["KBUILD_EXTRA_SYMBOLS := $(src)/../prov/Module.symvers"]
    need(not build_cell("prov", provider, base=work).problem, "kbuild")
    first = build_cell("cons", consumer, extra, base=work)
    assert first.ok, first.output
    build_cell("cons", consumer, extra, base=work)
    assert len(make_runs) == 2
    # a different prototype: a different CRC in prov's Module.symvers
    build_cell("prov", provider.replace("int b", "long b"), base=work)
    assert len(make_runs) == 3
    build_cell("cons", consumer, extra, base=work)
    assert len(make_runs) == 4


def test_the_cache_can_be_turned_off_and_keeps_only_the_newest_entries(
        tmp_path, cache_home, make_runs, monkeypatch):
    monkeypatch.setenv("KCOURSE_BUILD_CACHE", "0")
    build(tmp_path)
    build(tmp_path)
    assert len(make_runs) == 2
    assert not cache_home.exists()
    monkeypatch.delenv("KCOURSE_BUILD_CACHE")
    monkeypatch.setattr(kbuild_cache, "KEEP", 2)
    for word in ("a", "b", "c"):
        build(tmp_path, source=HELLO.replace("cache says", f"cache {word}"))
    assert len([p for p in cache_home.iterdir() if p.is_dir()]) == 2
