"""request_threaded_irq and free_irq (kcourse.kapi.irq) against Debian's real kernel in the
lab's QEMU machine.

- irqprobe (tests/data/kapi4/irqprobe, recorded by `scripts/record-kapifs.py --dir
  tests/data/kapi4 irqprobe`): a free line, sharing refused and accepted (the flags mismatch
  line with both flag words, the guest's own holders and their flags), a number without a
  descriptor, a shared request without dev_id, no handler, a threaded handler with and
  without IRQF_ONESHOT, every legacy line requested unshared, free_irq's name, its WARN for
  an already-free line, and the frees at exit. Compared without the pid.
- lab/irqs.expected: the guest's descriptors are the 16 legacy lines, and the lines with
  actions at boot are the model's.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import irq
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def expected(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def _no_pid(text: str) -> str:
    return re.sub(r"(WARNING: CPU: \d+ PID: )\d+", r"\1PID", text)


def test_irqprobe_matches_the_real_kernel(tmp_path):
    built = build_cell("irqprobe", (PROBES / "irqprobe" / "irqprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "irqprobe" / "script.sh").read_text())))
    real = expected(PROBES / "irqprobe" / "real.expected")
    assert "genirq: Flags mismatch irq 0. 00000000 (irqprobe-line) vs. 00015a00 (timer)" in real
    assert _no_pid(sim) == _no_pid(real)


def test_the_guests_lines_are_the_models():
    text = expected(PROBES / "lab" / "irqs.expected")
    rows = [line.split(None, 4) for line in text.splitlines() if re.match(r"\d+ ", line)]
    assert sorted(int(r[0]) for r in rows) == list(range(16))
    held = {int(r[0]): r[4] for r in rows if len(r) == 5}
    assert held == {n: actions[0][0] for n, actions in irq.BOOT.items()}


def test_the_guest_preempts_voluntarily():
    """kcourse.kapi.sched's static calls __SCT__preempt_schedule{,_notrace} are RETs because
    the guest's dynamic preemption mode is voluntary (kernel/sched/core.c
    preempt_dynamic_disable: NULL)."""
    text = expected(PROBES / "lab" / "preempt.expected")
    assert "(voluntary)" in text.split()
    from kcourse.kapi import registry

    registry.load_all()
    assert registry.FUNCTIONS["__SCT__preempt_schedule"].source == "kernel/sched/core.c"
