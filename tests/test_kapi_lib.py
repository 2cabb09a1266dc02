"""memcmp, kmemdup/kmemdup_nul/kstrdup/kstrndup and the find_bit family (kcourse.kapi.lib)
against Debian's real kernel.

libprobe (tests/data/kapi4/libprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 libprobe`): memcmp's result is the byte
difference (254 for 0xff - 0x01, lib/string.c), the copies' kmalloc sizes (ksize 8, 8, 16, 8),
kstrdup(NULL) is NULL, and the first/next/last/zero/and searches and __bitmap_weight over a
200-bit bitmap, including a search whose start is at or past the end (it returns the size).
"""

from __future__ import annotations

from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def test_libprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("libprobe", (PROBES / "libprobe" / "libprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "libprobe" / "script.sh").read_text())))
    real = (PROBES / "libprobe" / "real.expected").read_text()
    real = "".join(line for line in real.splitlines(True) if not line.startswith("#|"))
    assert "libprobe memcmp 254 -254 0 1 0" in real
    assert sim == real
