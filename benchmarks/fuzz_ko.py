"""Many thousands of hostile .ko files through `kcourse modinfo` and `kcourse objdump`.

Each case mutates a course module (kcourse.elf.mutate, seeded), runs both commands through
kcourse.cli.main in-process and classifies the result: accepted (exit 0), refused (exit 1
with one stderr line naming the file, grouped by the problem reported) or a VIOLATION (an
exception, another exit code, or stderr that is not exactly one line naming the file).
Prints counts by mutation and by outcome, the slowest case, and exits 1 on any violation.

    .venv/bin/python benchmarks/fuzz_ko.py [--cases 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# A readable module whose parm string lacks ':' makes kmod print this and still exit 0
# (tools/modinfo.c process_parm); kcourse does the same, so it is not a violation.
KMOD_WARNINGS = re.compile(r"(modinfo: ERROR: Found invalid \"[^\0]*?\": missing ':'\n)*",
                           re.S)


class _Stream(io.TextIOWrapper):
    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="surrogateescape")

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", "replace")


def run(argv: list[str]) -> tuple[int | str, str]:
    from kcourse.cli import main

    out, err = _Stream(), _Stream()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except BaseException as exc:  # noqa: B036 - a crash is exactly what we count
        return f"EXCEPTION {type(exc).__name__}", str(exc)
    return rc, err.text()


def problem(err: str, path: str) -> str:
    """The kind of problem reported: the message without the file name and numbers."""
    text = err.strip().replace(path, "FILE")
    text = re.sub(r"modinfo: ERROR: FILE: |objdump: FILE: ", "", text)
    return re.sub(r"0x[0-9a-f]+|\d+", "N", text)[:70]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from kcourse.elf import image, mutate
    from kcourse.paths import modules_dir

    sources = sorted(modules_dir().glob("*/*.ko"))
    if not sources:
        print("no course modules in data/modules", file=sys.stderr)
        return 2
    originals = [p.read_bytes() for p in sources]
    rng = random.Random(args.seed)
    by_mutation: Counter = Counter()
    outcomes: Counter = Counter()
    problems: Counter = Counter()
    violations = []
    slowest = (0.0, "")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kcourse-fuzz-") as tmp:
        path = Path(tmp) / "case.ko"
        for case in range(args.cases):
            kind, data = mutate.mutate(rng.choice(originals), rng)
            path.write_bytes(data)
            by_mutation[kind.split("+")[0]] += 1
            for argv in (["modinfo", str(path)], ["objdump", "-fht", str(path)]):
                t0 = time.perf_counter()
                rc, err = run(argv)
                elapsed = time.perf_counter() - t0
                if elapsed > slowest[0]:
                    slowest = (elapsed, f"case {case} ({kind}, {argv[0]})")
                ok = (rc == 0 and KMOD_WARNINGS.fullmatch(err)) or (
                    rc == 1 and err.count("\n") == 1 and str(path) in err)
                if not ok:
                    outcomes["VIOLATION"] += 1
                    violations.append((case, kind, argv[0], rc, err[:200]))
                elif rc == 0:
                    warned = " (with kmod's parm warning)" if err else ""
                    outcomes[f"{argv[0]}: accepted{warned}"] += 1
                else:
                    outcomes[f"{argv[0]}: refused"] += 1
                    problems[problem(err, str(path))] += 1
    total = time.perf_counter() - start
    print(f"{args.cases} mutated files (seed {args.seed}), {2 * args.cases} commands, "
          f"{total:.1f} s (wall), slowest {slowest[0] * 1000:.0f} ms: {slowest[1]}")
    print("\nmutations:")
    for name, count in sorted(by_mutation.items()):
        print(f"  {count:7d}  {name}")
    print("\noutcomes:")
    for name, count in sorted(outcomes.items()):
        print(f"  {count:7d}  {name}")
    print("\nmost common problems reported:")
    for text, count in problems.most_common(15):
        print(f"  {count:7d}  {text}")
    print("\ndecompression bombs (a small file that expands past the "
          f"{image.MAX_IMAGE >> 20} MiB cap):")
    with tempfile.TemporaryDirectory(prefix="kcourse-bomb-") as tmp:
        for kind in ("xz", "zst", "gz"):
            path = Path(tmp) / f"bomb.ko.{kind}"
            path.write_bytes(mutate.bomb(kind, image.MAX_IMAGE + (16 << 20)))
            t0 = time.perf_counter()
            rc, err = run(["modinfo", str(path)])
            elapsed = time.perf_counter() - t0
            refused = rc == 1 and "decompression bomb" in err and err.count("\n") == 1
            if not refused:
                violations.append(("bomb", kind, "modinfo", rc, err[:200]))
            print(f"  {kind:4s} {path.stat().st_size:8d} bytes on disk: "
                  f"{'refused' if refused else 'NOT REFUSED'} in {elapsed:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    print(f"peak memory of this process: {peak} MiB")
    for case, kind, cmd, rc, err in violations[:10]:
        print(f"VIOLATION case {case} ({kind}) {cmd}: rc={rc} stderr={err!r}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
