"""__warn_printk, refcount_warn_saturate, ___ratelimit and __rcu_read_lock/unlock
(kcourse.kapi.panic, ratelimit, rcu) against Debian's real kernel.

warnprobe (tests/data/kapi4/warnprobe, recorded on the real kernel under QEMU by
`scripts/record-kapifs.py --dir tests/data/kapi4 warnprobe`): WARN() and WARN_ONCE() with a
message (cut here, the message, the WARNING line at the module's own file and line), the
three refcount_t warnings a module can reach (decrement hit 0, addition on 0, underflow: each
once, the count left at REFCOUNT_SATURATED), a ratelimit of 3 per HZ over 10 calls and the
"callbacks suppressed" line after msleep(1100), the ratelimit_state layout as gcc compiles it,
and rcu_preempt_depth() through nested rcu_read_lock/unlock. Compared without the pid and
the folder the module was built in.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import ratelimit
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def _masked(text: str) -> str:
    text = re.sub(r"(WARNING: CPU: \d+ PID: )\d+", r"\1PID", text)
    return re.sub(r" at /\S+/warnprobe/warnprobe\.c:", " at warnprobe.c:", text)


def test_warnprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("warnprobe", (PROBES / "warnprobe" / "warnprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    script = (PROBES / "warnprobe" / "script.sh").read_text()
    sim = normalise(format_transcript(shell.run_script(script)))
    real = expected("warnprobe")
    assert "warnprobe_init: 7 callbacks suppressed" in real
    assert _masked(sim) == _masked(real)


def test_ratelimit_state_layout_is_gccs():
    """The offsets kcourse.kapi.ratelimit reads are those the probe printed on the real
    kernel: sizeof and offsetof(interval, burst, printed, missed, begin, flags)."""
    line = next(line for line in expected("warnprobe").splitlines()
                if "warnprobe layout:" in line)
    size, *offsets = (int(n) for n in line.split("layout:")[1].split())
    assert size == 40
    assert offsets == [ratelimit.INTERVAL, ratelimit.BURST, ratelimit.PRINTED,
                       ratelimit.MISSED, ratelimit.BEGIN, ratelimit.FLAGS]
