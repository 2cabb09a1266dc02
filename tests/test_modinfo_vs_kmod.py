"""`kcourse modinfo` against kmod's own `modinfo`, byte for byte.

Reference: the real kmod 30 binary on this machine (built +XZ +ZSTD -ZLIB +LIBCRYPTO), run
on every course module and on a deterministic sample of Debian's real, signed modules
(kcourse.elf.sample.diverse_sample). Compressed variants are made here. kmod cannot read
.ko.gz (no zlib), so a .gz is compared with kmod's output for the uncompressed file, with the
filename line changed.
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from conftest import course_module_names, need_tool
from kcourse.cli import main
from kcourse.elf.sample import diverse_sample
from kcourse.paths import course_module

OPTION_SETS = [[], ["-0"], ["-F", "parm"], ["-F", "alias"], ["-F", "signer"], ["-p"],
               ["-F", "vermagic"], ["-n"], ["-0", "-F", "parm"]]


def kmod(args: list[str], cwd: Path | None = None) -> tuple[int, bytes, bytes]:
    modinfo = need_tool("modinfo")
    # argv[0] "modinfo", as a shell would pass it (getopt's messages start with argv[0])
    proc = subprocess.run(["modinfo", *args], executable=modinfo, capture_output=True, cwd=cwd,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def ours(args: list[str], capfdbinary) -> tuple[int, bytes, bytes]:
    capfdbinary.readouterr()
    rc = main(["modinfo", *args])
    out, err = capfdbinary.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def debian_sample(debian_modules_dir) -> list[Path]:
    sample = diverse_sample(debian_modules_dir)
    assert len(sample) >= 30, "the Debian tree should give a varied sample"
    return sample


def course_paths() -> list[Path]:
    return [course_module(name) for name in course_module_names()]


def test_there_are_course_modules_to_compare():
    assert {"hello", "provider", "consumer"} <= set(course_module_names())


@pytest.mark.parametrize("name", course_module_names())
@pytest.mark.parametrize("options", OPTION_SETS, ids=" ".join)
def test_course_module_matches_kmod(name, options, capfdbinary):
    path = str(course_module(name))
    assert ours([*options, path], capfdbinary) == kmod([*options, path])


@pytest.mark.parametrize("options", OPTION_SETS, ids=" ".join)
def test_debian_sample_matches_kmod_in_one_invocation(debian_sample, options, capfdbinary):
    files = [str(p) for p in debian_sample]
    expected = kmod([*options, *files])
    assert expected[0] == 0 and b"sig_id:" in kmod([files[0]])[1]  # signed, really
    assert ours([*options, *files], capfdbinary) == expected


def test_debian_sample_one_by_one(debian_sample, capfdbinary):
    for path in debian_sample:
        assert ours([str(path)], capfdbinary) == kmod([str(path)]), path


def test_relative_path_is_made_absolute_like_kmod(tmp_path, capfdbinary, monkeypatch):
    (tmp_path / "sub").mkdir()
    shutil.copy(course_module("hello"), tmp_path / "sub" / "hello.ko")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    for arg in ["sub/hello.ko", "./sub/../sub/hello.ko"]:
        assert ours([arg], capfdbinary) == kmod([arg], cwd=tmp_path)


def _compressed(src: Path, dest_dir: Path) -> dict[str, Path]:
    data = src.read_bytes()
    out = {}
    out["xz"] = dest_dir / (src.name + ".xz")
    # the kernel's own `make modules_install` uses `xz --check=crc32 --lzma2=dict=1MiB`
    out["xz"].write_bytes(lzma.compress(data, check=lzma.CHECK_CRC32))
    out["zst"] = dest_dir / (src.name + ".zst")
    out["zst"].write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    out["gz"] = dest_dir / (src.name + ".gz")
    out["gz"].write_bytes(gzip.compress(data))
    return out


@pytest.fixture(scope="module")
def compressed_set(debian_sample, tmp_path_factory) -> list[tuple[Path, dict[str, Path]]]:
    """hello, provider and the four smallest (signed) Debian sample modules, compressed."""
    smallest = sorted(debian_sample, key=lambda p: p.stat().st_size)[:4]
    out = []
    for src in [course_module("hello"), course_module("provider"), *smallest]:
        folder = tmp_path_factory.mktemp(src.stem)
        out.append((src, _compressed(src, folder)))
    return out


@pytest.mark.parametrize("options", [[], ["-0"], ["-F", "parm"]], ids=" ".join)
def test_compressed_variants(compressed_set, options, capfdbinary):
    for src, variants in compressed_set:
        for kind in ("xz", "zst"):  # kmod reads these itself
            path = str(variants[kind])
            assert ours([*options, path], capfdbinary) == kmod([*options, path]), (src, kind)
        # gz: kmod here has no zlib; compare with the plain file, filename line swapped
        rc, out, err = kmod([*options, str(src)])
        out = out.replace(str(src).encode(), str(variants["gz"]).encode(), 1)
        assert ours([*options, str(variants["gz"])], capfdbinary) == (rc, out, err)


def test_compression_is_detected_by_magic_not_name(tmp_path, capfdbinary):
    src = course_module("hello")
    disguised = tmp_path / "hello.ko"
    disguised.write_bytes(lzma.compress(src.read_bytes()))
    rc, out, err = ours([str(disguised)], capfdbinary)
    assert (rc, out, err) == kmod([str(disguised)])
    assert b"name:           hello" in out


def test_missing_files_and_names_fail_like_kmod(tmp_path, capfdbinary, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("dir.ko")
    (tmp_path / "notes.txt").write_text("x")
    for args in (["nosuch.ko"], ["notes.txt"], ["dir.ko"], ["no_such_module_xyz"], [],
                 ["-F"], ["-x", "a.ko"], ["--bogus", "a.ko"], ["--f", "a.ko"],
                 ["--author=x", "a.ko"]):
        assert ours(args, capfdbinary) == kmod(args, cwd=tmp_path), args


def test_bad_file_among_good_ones_keeps_going(tmp_path, capfdbinary):
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"\x7fELF garbage")
    hello = str(course_module("hello"))
    rc, out, err = ours([hello, str(bad), hello], capfdbinary)
    k_rc, k_out, _k_err = kmod([hello, str(bad), hello])
    assert (rc, out) == (k_rc, k_out) == (1, k_out)
    assert err.count(b"\n") == 1 and str(bad).encode() in err


def test_json_is_ours_and_agrees_with_the_text(capfdbinary):
    import json

    path = str(course_module("hello"))
    rc, out, _ = ours(["--json", path], capfdbinary)
    assert rc == 0
    (record,) = json.loads(out)
    _, text, _ = kmod(["-F", "vermagic", path])
    assert dict(record["info"])["vermagic"] + "\n" == text.decode()
    _, parms, _ = kmod(["-F", "parm", path])
    assert {p["name"] for p in record["parm"]} == {
        line.split(":")[0] for line in parms.decode().splitlines() if ":" in line
        and not line.startswith((" ", "\t"))}
