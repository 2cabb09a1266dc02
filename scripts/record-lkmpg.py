#!/usr/bin/env python3
"""Record each LKMPG example's script on Debian's real kernel under QEMU (maintainers).

    PYTHONPATH=. python scripts/record-lkmpg.py [--check] [NAME...]

For each example (default: every data/lkmpg/<name>/script.sh) it runs, in data/lkmpg,

    kcourse sim --real --transcript <name>/script.sh

(one guest at a time: the machines have two cores), masks the transcript with
kcourse.lab.compare.normalise (addresses, dmesg timestamps, job PIDs, hashed pointers) and
writes data/lkmpg/<name>/real.expected: `#|` lines saying where the text comes from, then the
transcript. It prints how long each recording took and the total.

--check runs every script a second time and compares with the first: a line that differs
between two boots (timing, a value of the run that is not masked) is reported, and that
example's real.expected is not written. Exit status 1 when a recording failed or differed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LKMPG = ROOT / "data" / "lkmpg"
TIMEOUT = 300  # seconds per guest: example_tasklet alone busy-waits 5 s of guest time

HEADER = """\
#| {name}/script.sh on the real kernel: Debian's {release} booted under QEMU -cpu max (TCG)
#|   with Debian 12's bash, coreutils, util-linux and kmod 30 (kcourse.lab), recorded by
#|   scripts/record-lkmpg.py as `kcourse sim --real --transcript {name}/script.sh` run in
#|   data/lkmpg, then masked with kcourse.lab.compare.normalise (addresses, dmesg timestamps,
#|   job PIDs, hashed pointers). Never written from the simulator's output.
"""


def record(name: str) -> tuple[str, float, int, str]:
    """(normalised transcript, seconds, exit status, stderr) of one guest run."""
    from kcourse.lab.compare import normalise

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kcourse.cli", "sim", "--real", "--transcript",
         f"{name}/script.sh"],
        cwd=LKMPG, capture_output=True, timeout=TIMEOUT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.monotonic() - start
    text = proc.stdout.decode("utf-8", "surrogateescape")
    stderr = proc.stderr.decode("utf-8", "replace")
    return normalise(text), seconds, proc.returncode, stderr


def first_difference(a: str, b: str) -> str:
    for index, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {index + 1}: {x!r} / {y!r}"
    return "one is longer"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="record twice and compare")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from kcourse import pin

    names = args.names or sorted(p.parent.name for p in LKMPG.glob("*/script.sh"))
    unknown = [n for n in names if not (LKMPG / n / "script.sh").is_file()]
    if unknown:
        print(f"record-lkmpg: no data/lkmpg/{unknown[0]}/script.sh", file=sys.stderr)
        return 2
    failed = 0
    total = 0.0
    for name in names:
        text, seconds, rc, stderr = record(name)
        total += seconds
        problem = ""
        if not text.strip():
            problem = "no transcript: " + (stderr.strip().splitlines() or ["?"])[-1]
        elif args.check:
            again, more, _, _ = record(name)
            total += more
            if again != text:
                problem = "differs between two boots, " + first_difference(text, again)
        if problem:
            failed += 1
            print(f"{name:20} {seconds:6.1f} s  NOT WRITTEN: {problem}", flush=True)
            continue
        header = HEADER.format(name=name, release=pin.release())
        (LKMPG / name / "real.expected").write_text(header + text, encoding="utf-8",
                                                     errors="surrogateescape")
        print(f"{name:20} {seconds:6.1f} s  exit {rc}", flush=True)
    print(f"recorded {len(names) - failed}/{len(names)} in {total:.0f} s"
          f"{' (each twice)' if args.check else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
