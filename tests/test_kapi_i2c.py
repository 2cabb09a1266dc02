"""i2c_transfer and __i2c_transfer (kcourse.kapi.i2c) against Debian's real kernel.

i2cprobe (tests/data/kapi4/i2cprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 i2cprobe`) makes an adapter of its own
(algorithm and lock operations in its code) and transfers on it: the bus lock around each
transfer with I2C_LOCK_SEGMENT, the message handed to master_xfer and its reply, -EAGAIN
retried adap->retries times, the WARN_ON for no messages and for num 0, a suspended
adapter's dev_WARN once and -ESHUTDOWN, and -EOPNOTSUPP without master_xfer; and the
struct offsets kcourse.kapi.i2c reads, as gcc compiled them. Compared without the pid.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import i2c
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def _no_pid(text: str) -> str:
    return re.sub(r"(WARNING: CPU: \d+ PID: )\d+", r"\1PID", text)


def test_i2cprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("i2cprobe", (PROBES / "i2cprobe" / "i2cprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "i2cprobe" / "script.sh").read_text())))
    assert _no_pid(sim) == _no_pid(expected("i2cprobe"))


def test_offsets_are_gccs():
    line = next(line for line in expected("i2cprobe").splitlines() if "layout:" in line)
    assert [int(n) for n in line.split("layout:")[1].split()] == [
        i2c.ALGO, i2c.LOCK_OPS, i2c.TIMEOUT, i2c.RETRIES, i2c.DEV, i2c.LOCKED_FLAGS,
        i2c.QUIRKS, i2c.MASTER_XFER, i2c.UNLOCK_BUS]
