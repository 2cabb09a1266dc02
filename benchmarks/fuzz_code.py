"""Hostile module code: mutated .text of real modules, loaded and driven in fresh kernels.

Each run takes a real module (the course's, data/modules; the fuzz targets built against the
pinned headers, tests/data/fuzzcode), mutates its executable sections (kcourse.elf.
mutate_code, seeded), and in a fresh simulated Kernel loads it, reads and writes each device
it registered, lists it and unloads it, through the shell (kcourse.shell.Shell) or through
the Kernel API (finit_module, read_file, write_file, delete_module). Then it loads a good
module to show the Kernel still works, unless the machine panicked.

Every outcome must be normal output, the kernel's oops, or one clear SimulatorLimit line. A
VIOLATION is a Python exception (the traceback is printed with its case), a hang (the run
passed --timeout and its worker process was killed), an oops whose first line is not one the
kernel prints, a multi-line limit message, or a Kernel that refuses a good module afterwards
without having panicked. Prints counts by outcome, time per run, and exits 1 on a violation.

    .venv/bin/python benchmarks/fuzz_code.py [--runs 10000] [--seed 1] [--jobs 1]
    .venv/bin/python benchmarks/fuzz_code.py --seed 1 --case 1234   # one case, its transcript
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_code_case import run_case, targets  # noqa: E402 - next to this script


def _worker(conn, seed: int) -> None:
    pool = targets()
    with tempfile.TemporaryDirectory(prefix="kcourse-fuzzcode-") as tmp:
        while True:
            case = conn.recv()
            if case is None:
                return
            result = run_case(seed, case, pool, Path(tmp))
            result.pop("notes")
            conn.send((case, result))


class Worker:
    """A process that runs cases; killed (its own pid) when one passes the time bound."""

    def __init__(self, seed: int):
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, seed), daemon=True)
        self.proc.start()
        self.case, self.started = None, 0.0

    def give(self, case: int) -> None:
        self.case, self.started = case, time.perf_counter()
        self.conn.send(case)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--recycle", type=int, default=500, help="runs per worker process")
    parser.add_argument("--case", type=int, help="run one case in this process, verbosely")
    parser.add_argument("--violations", type=Path, help="write every violation to this file")
    args = parser.parse_args(argv)
    if args.case is not None:
        with tempfile.TemporaryDirectory(prefix="kcourse-fuzzcode-") as tmp:
            result = run_case(args.seed, args.case, targets(), Path(tmp))
        print("\n".join(result.pop("notes")))
        print(result)
        return 1 if result["violations"] else 0

    results: dict[int, dict] = {}
    pending = list(range(args.runs))[::-1]
    workers: list[Worker] = []
    done_by: Counter = Counter()
    start = time.perf_counter()
    while pending or any(w.case is not None for w in workers):
        while len(workers) < args.jobs and pending:
            workers.append(Worker(args.seed))
        for w in list(workers):
            if w.case is None and pending:
                w.give(pending.pop())
            if w.case is None:
                continue
            if w.conn.poll(0.02):
                try:
                    case, result = w.conn.recv()
                except EOFError:  # the worker died: that case counts as a crash
                    case, result = w.case, {"outcome": "VIOLATION", "detail": "worker died",
                                            "violations": ["the worker process died"]}
                    workers.remove(w)
                results[case] = result
                w.case = None
                done_by[id(w)] += 1
                if done_by[id(w)] >= args.recycle and w in workers:
                    w.conn.send(None)
                    w.proc.join()
                    workers.remove(w)
            elif time.perf_counter() - w.started > args.timeout:
                results[w.case] = {"outcome": "VIOLATION", "detail": f"hang (> {args.timeout} s)",
                                   "violations": [f"hang: killed after {args.timeout} s"]}
                w.kill()
                workers.remove(w)
    for w in workers:
        w.conn.send(None)
        w.proc.join()
    return report(args, results, time.perf_counter() - start)


def report(args, results: dict[int, dict], wall: float) -> int:
    outcomes = Counter(r["outcome"] for r in results.values())
    details = Counter((r["outcome"], r["detail"]) for r in results.values())
    kinds = Counter(r.get("kind", "?").split("+")[0] for r in results.values())
    times = sorted((r["time"], c) for c, r in results.items() if "time" in r)
    bad = {c: r for c, r in results.items() if r["violations"]}
    print(f"{len(results)} runs (seed {args.seed}, {args.jobs} job(s)), {wall:.0f} s wall")
    if times:
        print(f"time per run: median {statistics.median(t for t, _ in times) * 1000:.0f} ms, "
              f"mean {statistics.fmean(t for t, _ in times) * 1000:.0f} ms, "
              f"max {times[-1][0]:.1f} s (case {times[-1][1]})")
    print("\noutcomes:")
    for name, count in outcomes.most_common():
        print(f"  {count:7d}  {name}")
    print("\nmost common details:")
    for (name, detail), count in details.most_common(30):
        print(f"  {count:7d}  {name}: {detail}")
    print("\nmutations:")
    for name, count in sorted(kinds.items()):
        print(f"  {count:7d}  {name}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >> 10
    print(f"\npeak memory of a worker: {peak} MiB")
    print(f"violations: {len(bad)}")
    if args.violations:
        args.violations.write_text("".join(
            f"case {c}: {r.get('module')} {r.get('kind')} via {r.get('driver')}\n" +
            "".join(f"  {v}\n" for v in r["violations"]) for c, r in sorted(bad.items())))
    for case, r in sorted(bad.items())[:20]:
        print(f"\nVIOLATION case {case} (seed {args.seed}; rerun: benchmarks/fuzz_code.py "
              f"--seed {args.seed} --case {case}): {r.get('module')} {r.get('kind')} "
              f"via {r.get('driver')}")
        for v in r["violations"]:
            print("  " + v.replace("\n", "\n  "))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
