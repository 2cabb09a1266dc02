"""The LKMPG benchmark (data/lkmpg, benchmarks/lkmpg.py): its data is real, and the simulator
is held to it.

References, read independently of kcourse's simulator:
- upstream's examples/Makefile, as vendored (data/lkmpg/PROVENANCE names the commit and the
  git blob of every file; scripts/vendor-lkmpg.sh copies them byte for byte);
- pyelftools for the .ko files' `.modinfo` and `__versions`, against Debian's Module.symvers
  (data/kernel/Module.symvers.xz);
- kbuild itself: scripts/build-lkmpg.sh rebuilds examples into a temporary folder, and the
  .ko files must come out byte for byte as committed (when gcc and the pinned headers are
  installed, as in CI);
- Debian's real kernel under QEMU: every real.expected was recorded by
  scripts/record-lkmpg.py with `kcourse sim --real --transcript`, and a few are recorded again
  here when QEMU is installed.

The comparison (simulator vs real.expected) is one test per example. Where the simulator
differs, the example is in KNOWN_DIFFERENT with the reason, marked xfail(strict=True): when
the simulator starts to match, the test fails until the entry is removed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from kcourse import pin
from tests.conftest import need, need_tool
from tests.test_course_modules import kernel_symvers, section_bytes, versions

ROOT = Path(__file__).resolve().parent.parent
LKMPG = ROOT / "data" / "lkmpg"


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("lkmpg_benchmark",
                                                  ROOT / "benchmarks" / "lkmpg.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()
NAMES = bench.examples()

# example -> why the simulator's transcript differs from the real kernel's today (first
# difference first; `PYTHONPATH=. python benchmarks/lkmpg.py -v NAME` shows the whole diff).
# Every example's own machine code runs in the simulator (kcourse.machine); where it calls a
# kernel function kcourse.kapi does not model yet, the simulator stops with one line naming it
# and the real kernel goes on.
def _stops(function: str, more: str = "") -> str:
    return (f"its code calls {function}(), which kcourse.kapi does not model yet: the simulator "
            f"stops the load with one line where the real kernel goes on{more}")


KNOWN_DIFFERENT: dict[str, str] = {
}


@cache
def upstream_modules() -> list[str]:
    """The `obj-m += NAME.o` lines of upstream's examples/Makefile, in its order, as recorded
    in PROVENANCE (each example's first file) by scripts/vendor-lkmpg.sh."""
    names = []
    for line in (LKMPG / "PROVENANCE").read_text().splitlines():
        match = re.match(r"  examples/\S+ [0-9a-f]{40} -> ([^/]+)/", line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


@cache
def kbuild_objects(name: str) -> list[str]:
    """The source files a Kbuild builds: NAME.c, or the NAME-objs list."""
    text = (LKMPG / name / "Kbuild").read_text()
    assert re.match(rf"obj-m := {re.escape(name)}\.o\n", text), text
    objs = re.search(rf"^{re.escape(name)}-objs := (.+)$", text, re.M)
    return [o[:-2] + ".c" for o in objs.group(1).split()] if objs else [f"{name}.c"]


@cache
def manifest() -> dict[str, dict[str, str]]:
    lines = (LKMPG / "manifest.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header == ["name", "status", "ko_bytes", "ko_sha256", "sources_sha256"]
    return {row.split("\t")[0]: dict(zip(header, row.split("\t"), strict=True))
            for row in lines[1:]}


def sources_sha256(name: str) -> str:
    """What build-lkmpg.sh writes: sha256 of `sha256sum` lines of *.c, *.h, Kbuild, sorted."""
    folder = LKMPG / name
    files = sorted([p.name for p in folder.iterdir() if p.suffix in (".c", ".h")
                    and not p.name.endswith(".mod.c")] + ["Kbuild"])
    listing = "".join(f"{hashlib.sha256((folder / f).read_bytes()).hexdigest()}  {f}\n"
                      for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def modinfo(ko: Path) -> dict[str, str]:
    fields = {}
    for entry in section_bytes(ko, ".modinfo").split(b"\0"):
        if b"=" in entry:
            key, value = entry.decode().split("=", 1)
            fields.setdefault(key, value)
    return fields


# ---------------------------------------------------------------- (a) the data is complete
def test_the_42_examples_of_upstream_are_vendored():
    assert len(NAMES) == 42
    assert sorted(upstream_modules()) == NAMES
    provenance = (LKMPG / "PROVENANCE").read_text()
    assert re.search(r"^commit: [0-9a-f]{40}$", provenance, re.M)
    assert "https://github.com/sysprog21/lkmpg" in provenance
    assert (LKMPG / "LICENSE").read_text().lstrip().startswith("GNU GENERAL PUBLIC LICENSE")


@pytest.mark.parametrize("name", NAMES)
def test_example_has_source_ko_script_and_recording(name):
    folder = LKMPG / name
    texts = [(folder / source).read_text() for source in kbuild_objects(name)]
    assert any('MODULE_LICENSE("GPL")' in text for text in texts)
    for text in texts:
        for header in re.findall(r'^#include "([^"]+)"', text, re.M):
            assert (folder / header).is_file(), f"{name} includes {header}"
    assert (folder / f"{name}.ko").is_file()
    assert (folder / "script.sh").is_file()
    assert (folder / "real.expected").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_ko_is_built_for_the_pinned_kernel(name):
    ko = LKMPG / name / f"{name}.ko"
    info = modinfo(ko)
    # scripts/mod/modpost.c: vermagic from include/linux/vermagic.h (UTS_RELEASE " SMP
    # preempt mod_unload modversions "), the module name with '-' made '_'
    assert info["vermagic"] == f"{pin.release()} SMP preempt mod_unload modversions "
    assert info["name"] == name.replace("-", "_")
    assert info["license"] == "GPL"
    crc = kernel_symvers()["module_layout"][0]
    assert versions(ko)["module_layout"] == crc


@pytest.mark.parametrize("name", NAMES)
def test_manifest_matches_the_committed_ko_and_sources(name):
    """manifest.tsv was written by the build of these very files: a source edited, or a .ko
    replaced, without scripts/build-lkmpg.sh being run again shows up here."""
    row = manifest()[name]
    ko = (LKMPG / name / f"{name}.ko").read_bytes()
    assert row["status"] == "built"
    assert int(row["ko_bytes"]) == len(ko)
    assert row["ko_sha256"] == hashlib.sha256(ko).hexdigest()
    assert row["sources_sha256"] == sources_sha256(name)


def test_vkbd_depends_on_vinput():
    assert modinfo(LKMPG / "vkbd" / "vkbd.ko")["depends"] == "vinput"
    symvers = {s: crc for s, crc in versions(LKMPG / "vkbd" / "vkbd.ko").items()}
    assert {"vinput_register", "vinput_unregister"} <= set(symvers)


# Rebuilt by default: one plain module, the two-file one, and vkbd, linked against vinput's
# Module.symvers (build-lkmpg.sh builds vinput with it). KCOURSE_LKMPG_REBUILD=all rebuilds
# all 42 (2-3 minutes on two cores).
REBUILD_ALL = os.environ.get("KCOURSE_LKMPG_REBUILD") == "all"
REBUILT = NAMES if REBUILD_ALL else ["hello-1", "startstop", "vinput", "vkbd"]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    need_tool("make")
    need_tool("gcc")
    kdir = Path("/usr/src") / pin.headers_package()
    need((kdir / "Makefile").is_file(),
         f"{pin.headers_package()} is not installed (apt-get install {pin.headers_package()})")
    out = tmp_path_factory.mktemp("lkmpg-rebuild")
    names = [] if REBUILD_ALL else REBUILT
    proc = subprocess.run([str(ROOT / "scripts" / "build-lkmpg.sh"), str(out), *names],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.parametrize("name", REBUILT)
def test_rebuild_gives_the_committed_ko(name, rebuilt):
    fresh = rebuilt / name / f"{name}.ko"
    assert fresh.read_bytes() == (LKMPG / name / f"{name}.ko").read_bytes()


# ------------------------------------------------------ the recordings are of these scripts
@pytest.mark.parametrize("name", NAMES)
def test_recording_is_of_the_current_script(name):
    """real.expected holds one `$ line` per line of script.sh, in order, and says where it
    comes from: a script edited after its recording shows up here."""
    from kcourse.lab.runner import script_lines

    text = (LKMPG / name / "real.expected").read_text(errors="surrogateescape")
    assert text.startswith("#| ") and "kcourse sim --real --transcript" in text
    shown = [line[2:] for line in bench.read_expected(name).splitlines()
             if line.startswith("$ ")]
    assert shown == script_lines((LKMPG / name / "script.sh").read_text())


@pytest.mark.parametrize("name", ["hello-1", "chardev", "hello-5"])
def test_real_kernel_still_prints_the_recording(name):
    """A few scripts recorded again (QEMU, Debian's kernel; about 10 s each)."""
    need_tool("qemu-system-x86_64")
    from kcourse.backend import format_transcript
    from kcourse.errors import KcourseError
    from kcourse.lab import prepare_lab
    from kcourse.lab.cli import workdir_files
    from kcourse.lab.compare import normalise
    from kcourse.lab.runner import RealKernel, script_lines

    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    lines = script_lines((LKMPG / name / "script.sh").read_text())
    results = RealKernel(lab=lab, timeout=240).run_script(
        lines, files=workdir_files(lines, str(LKMPG)))
    real = normalise(format_transcript(results))
    assert real == bench.read_expected(name), bench.first_difference(
        bench.read_expected(name), real)


# --------------------------------------------------- (b) the simulator against the real one
def _param(name: str):
    if name in KNOWN_DIFFERENT:
        return pytest.param(name, marks=pytest.mark.xfail(
            strict=True, reason=f"simulator differs from the real kernel: "
                                f"{KNOWN_DIFFERENT[name]}"))
    return name


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_simulator_matches_real_kernel(name):
    outcome = bench.run(name)
    assert outcome.identical, outcome.difference


def test_known_different_names_real_examples():
    assert set(KNOWN_DIFFERENT) <= set(NAMES)
    assert all(reason.strip() for reason in KNOWN_DIFFERENT.values())


# ------------------------------------------------------- the tools the benchmark relies on
def test_normalise_masks_hashed_pointers_only():
    from kcourse.lab.compare import normalise

    text = ("device_open(000000003f2a9c1b)\n"          # %p: 32-bit hash, 16 digits
            "x 00000000deadbeef0 y\n"                   # 17 digits: not a pointer
            "tty 0000000000000000\n"                    # NULL is printed as it is
            "RAX: ffff888003f2a9c1 0x00000000deadbeef\n"  # no leading zeros / an address
            "address: 0000000000000010\n")              # a small number, not a hash
    assert normalise(text) == ("device_open(PTRHASH)\n"
                               "x 00000000deadbeef0 y\n"
                               "tty 0000000000000000\n"
                               "RAX: ffff888003f2a9c1 0xADDR\n"
                               "address: 0000000000000010\n")


def test_workdir_files_are_the_relative_ko_paths_that_exist(tmp_path):
    from kcourse.lab.cli import workdir_files

    (tmp_path / "hello-1").mkdir()
    (tmp_path / "hello-1" / "hello-1.ko").write_bytes(b"\x7fELF")
    lines = ["insmod hello-1/hello-1.ko", "insmod ./hello-1/hello-1.ko  # again",
             "insmod missing/missing.ko", "insmod ../hello-1/hello-1.ko",
             "insmod /abs/x.ko", "cat hello-1/hello-1.c", "echo 'unclosed"]
    assert workdir_files(lines, str(tmp_path)) == {
        "hello-1/hello-1.ko": tmp_path / "hello-1" / "hello-1.ko"}


def test_first_difference_names_the_line():
    assert bench.first_difference("a\nb\n", "a\nb\n") == ""
    assert bench.first_difference("$ x\nb\n", "$ x\nc\n") == (
        "line 2 (`$ x`): real 'b' / simulator 'c'")
    assert bench.first_difference("a\n", "a\nb\n") == "line 2: real '(end)' / simulator 'b'"
