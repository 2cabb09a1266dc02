"""capable() and ns_capable() (kcourse.kapi.capability) against Debian's real kernel.

capprobe (tests/data/kapi4/capprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 capprobe`): root passes CAP_SYS_ADMIN,
CAP_NET_ADMIN and CAP_CHECKPOINT_RESTORE (the last valid one) in init and in a /proc read
by cat, and the task has PF_SUPERPRIV afterwards.
"""

from __future__ import annotations

from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def test_capprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("capprobe", (PROBES / "capprobe" / "capprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "capprobe" / "script.sh").read_text())))
    real = (PROBES / "capprobe" / "real.expected").read_text()
    real = "".join(line for line in real.splitlines(True) if not line.startswith("#|"))
    assert "cat admin 1 superpriv 1" in real
    assert sim == real
