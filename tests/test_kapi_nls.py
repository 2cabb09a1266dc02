"""__register_nls and unregister_nls (kcourse.kapi.nls) against Debian's real kernel.

nlsprobe (tests/data/kapi4/nlsprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 nlsprobe`) registers two tables of its own:
owner set, ->next the table registered before (the guest's first is nls_base's "default"),
-EBUSY for a table already in the list, the predecessor's ->next rewritten when a table is
unregistered, -EINVAL for one not in the list; and struct nls_table's size and offsets. Then
Debian's own nls_cp437 and nls_utf8 load and unload with their code running.
"""

from __future__ import annotations

from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.debian import cached_image_modules_dir
from kcourse.kapi import nls
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def test_nlsprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("nlsprobe", (PROBES / "nlsprobe" / "nlsprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "nlsprobe" / "script.sh").read_text())))
    real = expected("nlsprobe")
    assert "nlsprobe b 0 next kcprobe-a" in real
    assert sim == real


def test_layout_is_gccs():
    line = next(line for line in expected("nlsprobe").splitlines() if "layout:" in line)
    assert [int(n) for n in line.split("layout:")[1].split()] == [nls.SIZE, nls.OWNER,
                                                                  nls.NEXT]


def _charsets(shell: Shell) -> list[str]:
    """nls_base's list, walked as find_nls walks it: tables, then each ->next."""
    machine = shell.kernel.emulator
    space, out = machine.space, []
    table = space.read_u64(machine.objects["nls_tables"])
    while table:
        out.append(space.read_cstring(space.read_u64(table + nls.CHARSET)).decode())
        table = space.read_u64(table + nls.NEXT)
    return out


def test_debians_nls_modules_run_their_init_and_exit():
    """Debian's nls_cp437 and nls_iso8859-1 call only register_nls/unregister_nls: their own
    init and exit run, each table goes to the front of the list (fs/nls/nls_base.c)."""
    tree = cached_image_modules_dir()
    need(tree is not None, "Debian's linux-image module tree is not in the cache")
    shell = Shell(workdir=str(tree / "kernel" / "fs" / "nls"))
    text = format_transcript(shell.run_script("insmod nls_cp437.ko\ninsmod nls_iso8859-1.ko\n"))
    assert "kcourse:" not in text, text
    assert _charsets(shell) == ["iso8859-1", "cp437", "default"]
    shell.run_script("rmmod nls_cp437\n")
    assert _charsets(shell) == ["iso8859-1", "default"]
    shell.run_script("rmmod nls_iso8859-1\n")
    assert _charsets(shell) == ["default"]
