"""memcmp, kmemdup/kmemdup_nul/kstrdup/kstrndup and the find_bit family (kcourse.kapi.lib)
against Debian's real kernel.

libprobe (tests/data/kapi4/libprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 libprobe`): memcmp's result is the byte
difference (254 for 0xff - 0x01, lib/string.c), the copies' kmalloc sizes (ksize 8, 8, 16, 8),
kstrdup(NULL) is NULL, and the first/next/last/zero/and searches and __bitmap_weight over a
200-bit bitmap, including a search whose start is at or past the end (it returns the size).

lib2probe (recorded the same way): print_hex_dump with each prefix type and group size,
hex_dump_to_buffer's return value when the line is too short or the group size does not
divide the length, gcd, strncasecmp, sysfs_streq, match_string, a checksum of the ctype
table through isalpha..isupper, bitrev8/16, fips_enabled 0, kmem_cache_size, and
request_firmware of a file the guest lacks: Debian's "firmware: failed to load" for the
name and for name.xz, the wiki line once, "Direct firmware load ... failed with error -2",
-ENOENT and a NULL firmware.
"""

from __future__ import annotations

from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def run(name: str, tmp_path: Path) -> tuple[str, str]:
    """(simulator's masked transcript, the real kernel's)."""
    built = build_cell(name, (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script((PROBES / name / "script.sh")
                                                       .read_text())))
    real = (PROBES / name / "real.expected").read_text()
    return sim, "".join(line for line in real.splitlines(True) if not line.startswith("#|"))


def test_libprobe_matches_the_real_kernel(tmp_path):
    sim, real = run("libprobe", tmp_path)
    assert "libprobe memcmp 254 -254 0 1 0" in real
    assert sim == real


def test_lib2probe_matches_the_real_kernel(tmp_path):
    sim, real = run("lib2probe", tmp_path)
    assert "Direct firmware load for kcourse-no-such.bin failed with error -2" in real
    assert sim == real
