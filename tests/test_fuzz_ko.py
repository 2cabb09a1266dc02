"""The bad-input promise, property-tested: for any mutation of a real .ko, `kcourse modinfo`
and `kcourse objdump` return 0 or 1, never raise, and on failure print exactly one stderr
line that names the file; KoFile either opens or raises KoFormatError (one line).

No deadline is set (no timed tests); benchmarks/fuzz_ko.py runs many thousands of cases and
reports the slowest.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import course_module_names
from kcourse.cli import main
from kcourse.elf import image, mutate
from kcourse.elf.kofile import KoFile
from kcourse.errors import KoFormatError
from kcourse.paths import course_module

COURSE = course_module_names()
KMOD_WARNINGS = re.compile(r"(modinfo: ERROR: Found invalid \"[^\0]*?\": missing ':'\n)*",
                           re.S)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def check_commands(path, capfd) -> None:
    for argv in (["modinfo", str(path)], ["objdump", "-fht", str(path)],
                 ["modinfo", "-F", "parm", str(path)]):
        capfd.readouterr()
        rc = main(argv)
        err = capfd.readouterr().err
        assert rc in (0, 1), argv
        if rc == 1:
            assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
            assert str(path) in err, (argv, err)
        else:  # kmod's own warning for a parm without ':' (tools/modinfo.c process_parm)
            assert KMOD_WARNINGS.fullmatch(err), (argv, err)


def check_kofile(path) -> None:
    try:
        ko = KoFile(path)
        for view in ("symbols", "undefined_symbols", "relocations", "modinfo", "versions",
                     "exports", "this_module", "signature", "name"):
            getattr(ko, view)
        ko.elf_size  # noqa: B018 - touching the property is the test
    except KoFormatError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path))


@SETTINGS
@given(name=st.sampled_from(COURSE), kind=st.sampled_from(sorted(mutate.MUTATIONS)),
       seed=st.integers(0, 2**32 - 1))
def test_mutated_modules_never_crash(tmp_path, capfd, name, kind, seed):
    data = course_module(name).read_bytes()
    _kind, bad = mutate.mutate(data, random.Random(seed), kind)
    path = tmp_path / f"{name}.ko"
    path.write_bytes(bad)
    check_commands(path, capfd)
    check_kofile(path)


@SETTINGS
@given(cut=st.integers(0, 2000))
def test_every_short_prefix_is_refused(tmp_path, capfd, cut):
    path = tmp_path / "short.ko"
    path.write_bytes(course_module("hello").read_bytes()[:cut])
    check_commands(path, capfd)
    with pytest.raises(KoFormatError):
        KoFile(path)


@pytest.mark.parametrize("kind", ["xz", "zst", "gz"])
def test_decompression_bomb_is_refused(kind, tmp_path, capfd, monkeypatch):
    """The cap is the mechanism under test, so it is lowered to keep the test quick;
    test_real_size_bomb below uses the real one."""
    monkeypatch.setattr(image, "MAX_IMAGE", 4 << 20)
    path = tmp_path / f"bomb.ko.{kind}"
    path.write_bytes(mutate.bomb(kind, 8 << 20))
    assert path.stat().st_size < 64 << 10  # small on disk ...
    with pytest.raises(KoFormatError, match="decompression bomb"):
        KoFile(path)  # ... refused once the output passes MAX_IMAGE
    check_commands(path, capfd)


def test_real_size_bomb_is_refused(tmp_path, capfd):
    path = tmp_path / "bomb.ko.zst"
    path.write_bytes(mutate.bomb("zst", image.MAX_IMAGE + (1 << 20)))
    capfd.readouterr()
    assert main(["modinfo", str(path)]) == 1
    err = capfd.readouterr().err
    assert "decompression bomb" in err and err.count("\n") == 1


def test_huge_section_count_is_refused_at_once(tmp_path, capfd):
    data = bytearray(course_module("hello").read_bytes())
    data[0x3C:0x3E] = (0xFFFF).to_bytes(2, "little")
    path = tmp_path / "many.ko"
    path.write_bytes(data)
    with pytest.raises(KoFormatError, match="65535 section headers"):
        KoFile(path)
    check_commands(path, capfd)
