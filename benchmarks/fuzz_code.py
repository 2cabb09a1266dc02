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
import random
import re
import resource
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The first line of each oops the kernel prints for a trap in module code, with its source.
OOPS_FIRST_LINES = re.compile("|".join([
    r"BUG: kernel NULL pointer dereference, address: [0-9a-f]{16}",  # arch/x86/mm/fault.c
    r"BUG: unable to handle page fault for address: [0-9a-f]{16}",  # arch/x86/mm/fault.c
    r"BUG: TASK stack guard page was hit at .*",  # arch/x86/kernel/traps.c
    r"PANIC: double fault, error_code: 0x[0-9a-f]+",  # traps.c exc_double_fault
    r"(segment-related )?general protection fault(, probably for non-canonical address "
    r"0x[0-9a-f]+|, maybe for address 0x[0-9a-f]+)?: [0-9a-f]{4} \[#\d+\].*",  # traps.c
    r"(invalid opcode|divide error|int3|stack segment|bounds|overflow): [0-9a-f]{4} \[#\d+\].*",
    r"stack-protector: Kernel stack is corrupted in: .*",  # kernel/panic.c __stack_chk_fail
]))
GOOD = ("hello", "noleak")  # modules that must still load afterwards (a name not the mutant's)


@dataclass
class Target:
    name: str
    path: Path
    params: list[str] = field(default_factory=list)
    prelude: list[str] = field(default_factory=list)  # modules to load first (consumer)

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def targets() -> list[Target]:
    from kcourse.paths import modules_dir

    found = [Target(p.stem, p) for p in sorted(modules_dir().glob("*/*.ko"))]
    found += [Target(p.stem, p) for p in sorted((ROOT / "tests/data/fuzzcode").glob("*/*.ko"))]
    params = {"fuzzdev": ["size=64", "greeting=x", "size=1"], "fuzzcalc": ["depth=3"],
              "hello": ["count=3"]}
    for t in found:
        t.params = params.get(t.name, [])
        if t.name == "consumer":
            t.prelude = [str(modules_dir() / "provider/provider.ko")]
    return found


def normalise(text: str) -> str:
    """A message without what varies between cases: sites, addresses, numbers."""
    text = re.sub(r"\S+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\w+\])?", "SITE", text)
    text = re.sub(r"0x[0-9a-f]+|[0-9a-f]{16}|\d+", "N", text)
    return text.strip()[:90]


class Case:
    """One mutant through one driver; `notes` is the transcript, `violations` what broke."""

    def __init__(self, seed: int, case: int, pool: list[Target], workdir: Path):
        from kcourse.elf import mutate_code

        rng = random.Random(f"{seed}:{case}")
        self.target = rng.choice(pool)
        self.kind, self.data = mutate_code.mutate(self.target.data, rng)
        self.driver = rng.choice(["shell", "api"])
        self.params = rng.choice(self.target.params + [""] * 3)
        self.kernel_seed = rng.randrange(1 << 16)
        self.path = workdir / f"{self.target.name}.ko"
        self.notes: list[str] = []
        self.violations: list[str] = []
        self.limits: list[str] = []
        self.refused: list[str] = []

    # ------------------------------------------------------------------ drivers
    def run(self) -> None:
        from kcourse.kernel.kernel import Kernel

        self.path.write_bytes(self.data)
        self.kernel = Kernel(seed=self.kernel_seed)
        try:
            (self._shell if self.driver == "shell" else self._api)()
        except Exception:  # noqa: BLE001 - a Python exception is exactly what we look for
            self.violations.append("traceback:\n" + traceback.format_exc())

    def _shell(self) -> None:
        from kcourse.shell.core import Shell

        shell = Shell(self.kernel, workdir=str(self.path.parent))
        for pre in self.target.prelude:
            self._line(shell, f"insmod {pre}")
        before = set(self.kernel.devices)
        self._line(shell, f"insmod {self.path.name} {self.params}".strip())
        for dev in sorted(set(self.kernel.devices) - before):
            for line in (f"cat /dev/{dev}", f"echo 12 fuzz > /dev/{dev}", f"cat /dev/{dev}"):
                self._line(shell, line)
        for line in ("lsmod", "cat /proc/modules", f"rmmod {self.target.name}", "dmesg"):
            self._line(shell, line)
        good = next(g for g in GOOD if g != self.target.name)
        from kcourse.paths import course_module

        loaded = self._line(shell, f"insmod {course_module(good)}")
        unloaded = self._line(shell, f"rmmod {good}")
        self._check_usable(good, loaded == 0 and unloaded == 0)

    def _line(self, shell, line: str) -> int:
        result = shell.run(line)
        self.notes.append(f"$ {line}\n{result.stdout}{result.stderr}[rc={result.rc}]")
        for err in result.stderr.splitlines():
            if err.startswith("kcourse:"):
                self.limits.append(err)
            elif "Traceback" in err or "internal error" in err:
                self.violations.append(f"python error on stderr: {err}")
            elif err.startswith(("insmod:", "rmmod:")):
                self.refused.append(err)
        return result.rc

    def _api(self) -> None:
        from kcourse.kernel.kernel import KernelErrno
        from kcourse.paths import course_module

        k = self.kernel

        def call(what: str, fn, *args):
            try:
                out = fn(*args)
                self.notes.append(f"{what} -> {str(out)[:200]!r}")
                return True
            except KernelErrno as err:
                message = str(err)
                self.notes.append(f"{what} -> {type(err).__name__}: {message}")
                if message.startswith("kcourse:"):
                    self.limits.append(message)
                    if "\n" in message:
                        self.violations.append(f"limit of more than one line: {message!r}")
                elif what.startswith("finit_module"):
                    self.refused.append(f"{what}: {message}")
                return False

        for pre in self.target.prelude:
            call(f"finit_module {pre}", k.finit_module, pre)
        before = set(k.devices)
        call(f"finit_module {self.target.name}", k.finit_module, str(self.path), self.params)
        for dev in sorted(set(k.devices) - before):
            call(f"read /dev/{dev}", k.read_file, f"/dev/{dev}")
            call(f"write /dev/{dev}", k.write_file, f"/dev/{dev}", "12 fuzz\n")
            call(f"read /dev/{dev}", k.read_file, f"/dev/{dev}")
        call("read /proc/modules", k.read_file, "/proc/modules")
        call(f"delete_module {self.target.name}", k.delete_module, self.target.name)
        good = next(g for g in GOOD if g != self.target.name)
        ok = call(f"finit_module {good}", k.finit_module, str(course_module(good))) and \
            call(f"delete_module {good}", k.delete_module, good)
        self._check_usable(good, ok)

    def _check_usable(self, good: str, ok: bool) -> None:
        printed = any(f"{good}: " in line for line in self.kernel.dmesg_lines()[-8:])
        if not self.kernel.panicked and not (ok and printed):
            self.violations.append(f"the Kernel did not panic but refused the good module {good}")

    # ------------------------------------------------------------------ verdict
    def outcome(self) -> tuple[str, str]:
        """(outcome, detail): panic, oops, simulator limit, refused or ok."""
        oopses = [e.detail for e in self.kernel.events if e.kind == "oops"]
        for headline in oopses:
            if not OOPS_FIRST_LINES.fullmatch(headline):
                self.violations.append(f"an oops the kernel does not print: {headline!r}")
        if self.kernel.panicked:
            return "panic", normalise(oopses[-1] if oopses else "?")
        if oopses:
            return "oops", normalise(oopses[0])
        if self.limits:
            return "simulator limit", normalise(self.limits[0])
        if self.refused:
            return "refused", normalise(self.refused[0])
        return "ok", ""

    def result(self, elapsed: float) -> dict:
        outcome, detail = self.outcome()
        return {"outcome": outcome, "detail": detail, "kind": self.kind, "time": elapsed,
                "module": self.target.name, "driver": self.driver,
                "violations": self.violations, "notes": self.notes}


def run_case(seed: int, case: int, pool: list[Target], workdir: Path) -> dict:
    t0 = time.perf_counter()
    c = Case(seed, case, pool, workdir)
    c.run()
    return c.result(time.perf_counter() - t0)


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
