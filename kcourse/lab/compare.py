"""Put the simulator and the real kernel side by side, command by command.

Only values of the run may differ between them (tests/scenarios/README.md, "Comparing"):
kernel addresses (`0x` and 16 hex digits: module load addresses are randomised on a real
machine), dmesg timestamps (`[%5lu.%06lu] `, kernel/printk/printk.c print_time), the PID in
bash's notice for a background job, and hashed pointers (what `%p` prints). `normalise`
masks them; `compare` pairs the results and says, for each command, whether the rest is
identical. Used by tests/test_lab_differential.py, benchmarks/lkmpg.py and the lab lesson.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kcourse.backend import CommandResult, format_transcript

ADDRESS = re.compile(r"0x[0-9a-f]{16}")
TIMESTAMP = re.compile(r"(?m)^\[\s*\d+\.\d{6}\] ")
JOB_NOTICE = re.compile(r"(?m)^(\[\d+\]) \d+$")  # bash's `[N] PID` for `cmd &` (jobs.c)
# lib/vsprintf.c ptr_to_id: `%p` prints a pointer hashed with a key drawn at boot; on 64-bit
# the hash is cut to 32 bits (ptr_to_hashval: `hashval & 0xffffffff`) and printed as 16 hex
# digits with zeros in front (pointer_string, field width 2 * sizeof(void *)), without "0x".
# NULL and error pointers are printed as they are (IS_ERR_OR_NULL), and a hash below 0x10000
# (one in 65536) is taken for a small number such as a faulting address near NULL.
HASHED_POINTER = re.compile(r"(?<![0-9A-Za-z])00000000(?!0000)[0-9a-f]{8}(?![0-9A-Za-z])")
# kernel/time/hrtimer.c hrtimer_interrupt: `pr_warn_once("hrtimer: interrupt took %llu ns\n")`
# when the guest's timer interrupt ran late, i.e. when the host was busy (TCG): a line about
# the machine's load, not about what the commands did.
HRTIMER_LATE = re.compile(r"(?m)^(  dmesg> )?(\[\s*\d+\.\d{6}\] )?hrtimer: interrupt took \d+ ns\n")
# The simulator's notes about itself (kcourse.kernel.Kernel.notes: "kcourse: note: <mod>'s
# init did not run in the simulator ..."): its own commentary, never the system's output.
SIMULATOR_NOTE = re.compile(r"(?m)^kcourse: note: .*\n")


def normalise(text: str) -> str:
    """Mask addresses (0xADDR), dmesg timestamps ([TIME]), the PID of bash's notice for a
    background job ([N] PID) and hashed pointers (PTRHASH), and drop the kernel's one-off
    `hrtimer: interrupt took N ns` (host load) and the simulator's own `kcourse: note:` lines,
    nothing else."""
    text = SIMULATOR_NOTE.sub("", HRTIMER_LATE.sub("", text))
    text = JOB_NOTICE.sub(r"\1 PID", text)
    text = HASHED_POINTER.sub("PTRHASH", text)
    return TIMESTAMP.sub("[TIME] ", ADDRESS.sub("0xADDR", text))


def log_lines(result: CommandResult) -> list[str]:
    """The kernel log lines a command caused, one per printed line (a record whose text holds
    a newline prints as two lines on the real side)."""
    return "\n".join(result.dmesg).split("\n") if result.dmesg else []


def render(result: CommandResult, with_log: bool = True) -> str:
    """One command as a transcript (`$ line`, stdout, stderr, `[rc=N]`) plus its log lines."""
    text = format_transcript([result])
    if with_log:
        text += "".join(f"  dmesg> {line}\n" for line in log_lines(result))
    return normalise(text)


@dataclass(frozen=True)
class Pair:
    line: str
    simulator: CommandResult | None
    real: CommandResult | None

    @property
    def same(self) -> bool:
        if self.simulator is None or self.real is None:
            return False
        return render(self.simulator) == render(self.real)


def compare(simulator: list[CommandResult], real: list[CommandResult]) -> list[Pair]:
    """Pair the two result lists line by line (a missing side is None)."""
    pairs = []
    for index in range(max(len(simulator), len(real))):
        sim = simulator[index] if index < len(simulator) else None
        kern = real[index] if index < len(real) else None
        pairs.append(Pair((sim or kern).line, sim, kern))
    return pairs


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in text.splitlines())


def side_by_side(pairs: list[Pair]) -> str:
    """Text for a notebook: each command once when both sides agree, both when they do not."""
    out = []
    for pair in pairs:
        shown = pair.real or pair.simulator
        body = render(shown)
        body = body.split("\n", 1)[1] if "\n" in body else ""
        if pair.same:
            out.append(f"✔ $ {pair.line}\n")
            out.append(_indent(body, "    "))
            continue
        out.append(f"✘ $ {pair.line}\n")
        for label, result in (("simulator", pair.simulator), ("real kernel", pair.real)):
            text = render(result).split("\n", 1)[1] if result else "(did not run)\n"
            out.append(f"    {label}:\n")
            out.append(_indent(text, "      "))
    same = sum(p.same for p in pairs)
    out.append(f"{same} of {len(pairs)} commands identical (addresses and timestamps masked)\n")
    return "".join(out)
