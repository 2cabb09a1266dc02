"""The file APIs against Debian's real kernel: probe modules whose scripts were recorded there.

Each tests/data/kapifs/<probe>/ holds a module's C source, a script of shell lines and the
script's transcript on the real kernel under QEMU (real.expected, scripts/record-kapifs.py).
Here the module is built from its source against the pinned headers (skipped without them,
a failure under CI), the script runs on a fresh simulated kernel next to the .ko, and the
masked transcript must be the real one, line for line: /proc files through proc_ops and
seq_file (buffer growth, a buggy ->next, -EIO without a method, a release run by rmmod for
a file still open), char devices (dynamic majors 246 and 245, -EBUSY for a taken one,
/proc/devices, two module references while open, -EINVAL without ->read, -ENXIO without a
cdev, /sys/class/<c>/<d>/dev and uevent), sysfs (a group with is_visible, show and store,
-EACCES at open) and debugfs (u32, x32, bool, read-only u8).
"""

from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapifs"
NAMES = sorted(p.name for p in PROBES.iterdir() if (p / "real.expected").exists())


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


@pytest.mark.parametrize("name", NAMES)
def test_probe_matches_the_real_kernel(name, tmp_path):
    built = build_cell(name, (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    results = shell.run_script((PROBES / name / "script.sh").read_text())
    assert normalise(format_transcript(results)) == expected(name)


def test_every_probe_has_its_source_script_and_recording():
    folders = [p for p in PROBES.iterdir() if p.is_dir()]
    assert folders
    for folder in folders:
        assert {f"{folder.name}.c", "script.sh", "real.expected"} <= \
            {p.name for p in folder.iterdir()}, folder
