"""`kcourse objdump -f/-h/-t` against binutils' own objdump (2.40 on Debian 12), byte for byte.

Reference: the real objdump, on every course module and on a deterministic sample of Debian's
modules. objdump cannot read compressed modules; for those ours is compared with objdump's
output for the uncompressed file, with the file name changed.
"""

from __future__ import annotations

import lzma
import subprocess
from pathlib import Path

import pytest
import zstandard

from conftest import course_module_names, need_tool
from kcourse.cli import main
from kcourse.elf.kofile import KoFile
from kcourse.elf.objdump import bfd_sections, objdump_text
from kcourse.elf.sample import diverse_sample
from kcourse.paths import course_module

OPTIONS = [["-f"], ["-h"], ["-t"], ["-fht"], ["-t", "-f"]]


def binutils(args: list[str], cwd=None) -> tuple[int, str, str]:
    objdump = need_tool("objdump")
    proc = subprocess.run(["objdump", *args], executable=objdump, capture_output=True,
                          text=True, cwd=cwd, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def ours(args: list[str], capfd) -> tuple[int, str, str]:
    capfd.readouterr()
    rc = main(["objdump", *args])
    out, err = capfd.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def debian_sample(debian_modules_dir) -> list[Path]:
    return diverse_sample(debian_modules_dir)


@pytest.mark.parametrize("name", course_module_names())
@pytest.mark.parametrize("options", OPTIONS, ids=" ".join)
def test_course_module_matches_objdump(name, options, capfd):
    path = str(course_module(name))
    assert ours([*options, path], capfd) == binutils([*options, path])


@pytest.mark.parametrize("options", OPTIONS[:4], ids=" ".join)
def test_debian_sample_matches_objdump(debian_sample, options, capfd):
    files = [str(p) for p in debian_sample]
    assert len(files) >= 30
    assert ours([*options, *files], capfd) == binutils([*options, *files])


def test_relative_name_is_printed_as_given(tmp_path, capfd):
    target = tmp_path / "hello.ko"
    target.write_bytes(course_module("hello").read_bytes())
    rc, out, err = binutils(["-f", "hello.ko"], cwd=tmp_path)
    assert out.startswith("\nhello.ko:     file format elf64-x86-64\n")
    assert objdump_text(KoFile(target), file_header=True, filename="hello.ko") == out


def test_compressed_modules_show_the_elf_inside(tmp_path, capfd):
    for src in (course_module("hello"), course_module("consumer")):
        expected = binutils(["-fht", str(src)])[1]
        for suffix, data in ((".xz", lzma.compress(src.read_bytes())),
                             (".zst", zstandard.ZstdCompressor().compress(src.read_bytes()))):
            path = tmp_path / (src.name + suffix)
            path.write_bytes(data)
            rc, out, err = ours(["-fht", str(path)], capfd)
            assert (rc, err) == (0, "")
            assert out == expected.replace(str(src), str(path), 1)


def test_section_flags_we_teach(capfd):
    """The flags the lesson talks about, read from binutils' own -h output."""
    ko = KoFile(course_module("hello"))
    ours_flags = {sec.name: flags for sec, flags in bfd_sections(ko)}
    _, text, _ = binutils(["-h", str(course_module("hello"))])
    lines = text.splitlines()
    theirs = {}
    for i, line in enumerate(lines):
        parts = line.split()
        if len(parts) == 7 and parts[0].isdigit():
            theirs[parts[1]] = lines[i + 1].strip().split(", ")
    assert ours_flags == theirs
    assert "CODE" in theirs[".init.text"] and "RELOC" in theirs[".init.text"]
    assert theirs[".bss"] == ["ALLOC"]
    assert theirs[".gnu.linkonce.this_module"][-1] == "LINK_ONCE_DISCARD"


def test_missing_and_bad_files_are_one_line(tmp_path, capfd):
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"not an elf at all")
    for path in (tmp_path / "missing.ko", bad):
        rc, out, err = ours(["-h", str(path)], capfd)
        assert rc == binutils(["-h", str(path)])[0] == 1
        assert err.count("\n") == 1 and str(path) in err
