"""The LKMPG benchmark: The Linux Kernel Module Programming Guide's 42 examples, simulator vs
Debian's real kernel.

Each example in data/lkmpg/<name>/ has its C source, the .ko built from it against the
pinned headers (scripts/build-lkmpg.sh), a script of the shell lines a reader of the guide
types (script.sh: insmod, dmesg, its /proc/modules line, the device or file the example is
about, rmmod, dmesg) and that script's transcript on the real kernel under QEMU
(real.expected, recorded by scripts/record-lkmpg.py). This runs every script on the simulator
as `kcourse sim --transcript <name>/script.sh` run in data/lkmpg does (a fresh simulated
kernel, the shell starting in data/lkmpg), masks both sides with
kcourse.lab.compare.normalise (addresses, dmesg timestamps, job PIDs, hashed pointers) and
prints, per example, `identical` or the first line that differs, then `N/42 identical`.

Run: PYTHONPATH=. .venv/bin/python benchmarks/lkmpg.py [-v] [NAME...]
  -v   the whole unified diff (real kernel first) for each example that differs
Exit status: 0 (the figures are the result; tests/test_lkmpg.py holds the expectations).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kcourse.paths import data_dir  # noqa: E402

LKMPG = data_dir() / "lkmpg"


def examples() -> list[str]:
    """Every vendored example: the folders of data/lkmpg with a Kbuild file, sorted."""
    return sorted(p.parent.name for p in LKMPG.glob("*/Kbuild"))


def read_expected(name: str) -> str:
    """real.expected without its `#|` provenance lines: the masked real transcript."""
    text = (LKMPG / name / "real.expected").read_text(encoding="utf-8",
                                                        errors="surrogateescape")
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def simulate(name: str) -> str:
    """The masked transcript of <name>/script.sh on a fresh simulated kernel, as
    `kcourse sim --transcript` prints it (kcourse.shell.sim.sim_main: a Shell started in the
    caller's folder, here data/lkmpg). A simulator that fails gets its one-line message as
    the last line, so the comparison shows where it stopped."""
    from kcourse.backend import format_transcript
    from kcourse.errors import KcourseError
    from kcourse.lab.compare import normalise
    from kcourse.shell.core import Shell

    text = (LKMPG / name / "script.sh").read_text(encoding="utf-8", errors="surrogateescape")
    try:
        shell = Shell(workdir=str(LKMPG))
        results = shell.run_script(text)
    except KcourseError as err:
        return f"kcourse sim: {err}\n"
    except Exception as err:  # noqa: BLE001 - a simulator bug is a result here, not a crash
        return f"kcourse sim: internal error: {type(err).__name__}: {err}\n"
    return normalise(format_transcript(results))


def first_difference(real: str, sim: str) -> str:
    """`line N (`$ command`): real '...' / simulator '...'` for the first transcript line
    that differs (the command is the last `$ ` line before it on the real side), or ''."""
    real_lines, sim_lines = real.splitlines(), sim.splitlines()
    command = ""
    for index in range(max(len(real_lines), len(sim_lines))):
        want = real_lines[index] if index < len(real_lines) else "(end)"
        got = sim_lines[index] if index < len(sim_lines) else "(end)"
        if want != got:
            where = f" (`{command}`)" if command else ""
            return f"line {index + 1}{where}: real {want!r} / simulator {got!r}"
        if want.startswith("$ "):
            command = want
    return ""


def matching_lines(real: str, sim: str) -> int:
    """How many of the real transcript's lines the simulator's has, in order (difflib)."""
    matcher = difflib.SequenceMatcher(None, real.splitlines(), sim.splitlines(),
                                      autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


NOT_FOUND = re.compile(r"(?m)^bash: ([\w.+-]+): command not found$")
BAD_OPTION = re.compile(r"(?m)^([\w.+-]+): invalid option -- '(.)'$")


def shell_gaps(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """Commands (and options) the simulator's shell refused that the real one ran:
    {`dd`: [examples], `head -c`: [...]}; the real side said nothing of the kind."""
    gaps: dict[str, list[str]] = {}
    for outcome in outcomes:
        refused = {m.group(1): m.group(0) for m in NOT_FOUND.finditer(outcome.simulator)}
        refused |= {f"{m.group(1)} -{m.group(2)}": m.group(0)
                    for m in BAD_OPTION.finditer(outcome.simulator)}
        for gap, message in sorted(refused.items()):
            if message not in outcome.real:
                gaps.setdefault(gap, []).append(outcome.name)
    return gaps


def unified(real: str, sim: str) -> str:
    return "".join(difflib.unified_diff(real.splitlines(True), sim.splitlines(True),
                                        "real.expected", "simulator"))


@dataclass(frozen=True)
class Outcome:
    name: str
    real: str
    simulator: str
    seconds: float

    @property
    def identical(self) -> bool:
        return self.real == self.simulator

    @property
    def difference(self) -> str:
        return first_difference(self.real, self.simulator)

    @property
    def lines(self) -> tuple[int, int]:
        """(real transcript lines the simulator matched, real transcript lines)."""
        return matching_lines(self.real, self.simulator), len(self.real.splitlines())


def run(name: str) -> Outcome:
    start = time.perf_counter()
    sim = simulate(name)
    return Outcome(name, read_expected(name), sim, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    names = args.names or examples()
    unknown = [n for n in names if n not in examples()]
    if unknown:
        print(f"lkmpg: no example '{unknown[0]}' in data/lkmpg", file=sys.stderr)
        return 2
    missing = [n for n in names if not (LKMPG / n / "real.expected").is_file()]
    if missing:
        print(f"lkmpg: {missing[0]} has no real.expected (scripts/record-lkmpg.py)",
              file=sys.stderr)
        return 2
    outcomes = [run(name) for name in names]
    width = max(len(n) for n in names)
    for outcome in outcomes:
        verdict = "identical" if outcome.identical else outcome.difference
        matched, lines = outcome.lines
        print(f"{outcome.name:<{width}}  {outcome.seconds * 1000:7.1f} ms  "
              f"{matched:3}/{lines:<3} lines  {verdict}")
        if args.verbose and not outcome.identical:
            print(unified(outcome.real, outcome.simulator), end="")
    same = sum(o.identical for o in outcomes)
    total = sum(o.seconds for o in outcomes)
    matched = sum(o.lines[0] for o in outcomes)
    lines = sum(o.lines[1] for o in outcomes)
    for gap, names in sorted(shell_gaps(outcomes).items()):
        print(f"simulator's shell lacks `{gap}`: {', '.join(names)}")
    print(f"{matched}/{lines} transcript lines as on the real kernel; "
          f"simulator time {total:.2f} s")
    print(f"{same}/{len(outcomes)} identical (addresses, timestamps, job PIDs and hashed "
          f"pointers masked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
