"""One run of the code fuzz (benchmarks/fuzz_code.py, tests/test_fuzz_code.py): a mutated
module loaded, driven and unloaded in a fresh Kernel, then a good module, and the verdict.

A Case drives the mutant through the shell (kcourse.shell.Shell: insmod, cat and echo on each
device it registered, lsmod, /proc/modules, rmmod, dmesg) or through the Kernel API
(finit_module, read_file, write_file, delete_module). Its outcome is panic, oops, simulator
limit, refused or ok; its violations are what must never happen: a Python exception, an oops
whose first line the kernel does not print, a limit message of more than one line, a Kernel
that did not panic but refuses a good module.
"""

from __future__ import annotations

import random
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The first line of each oops the kernel prints for a trap in module code, with its source.
OOPS_FIRST_LINES = re.compile("|".join([
    r"BUG: kernel NULL pointer dereference, address: [0-9a-f]{16}",  # arch/x86/mm/fault.c
    r"BUG: unable to handle page fault for address: [0-9a-f]{16}",  # arch/x86/mm/fault.c
    r"BUG: TASK stack guard page was hit at .*",  # arch/x86/kernel/traps.c
    r"traps: PANIC: double fault, error_code: 0x[0-9a-f]+",  # traps.c exc_double_fault (pr_fmt)
    r"(segment-related )?general protection fault(, probably for non-canonical address "
    r"0x[0-9a-f]+|, maybe for address 0x[0-9a-f]+)?: [0-9a-f]{4} \[#\d+\].*",  # traps.c
    r"(invalid opcode|divide error|int3|stack segment|bounds|overflow): [0-9a-f]{4} \[#\d+\].*",
    r"stack-protector: Kernel stack is corrupted in: .*",  # kernel/panic.c __stack_chk_fail
    # lib/bug.c report_bug: a BUG() (a ud2 its __bug_table lists) prints CUT_HERE first, then
    # "kernel BUG at FILE:LINE!" and the invalid-opcode oops
    r"------------\[ cut here \]------------",
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

    def __init__(self, target: Target, kind: str, data: bytes, workdir: Path,
                 driver: str = "shell", params: str = "", kernel_seed: int = 0):
        self.target, self.kind, self.data = target, kind, data
        self.driver, self.params, self.kernel_seed = driver, params, kernel_seed
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


def make_case(seed: int, case: int, pool: list[Target], workdir: Path) -> Case:
    """Case number `case` of run `seed`: everything it does follows from the two."""
    from kcourse.elf import mutate_code

    rng = random.Random(f"{seed}:{case}")
    target = rng.choice(pool)
    kind, data = mutate_code.mutate(target.data, rng)
    return Case(target, kind, data, workdir, driver=rng.choice(["shell", "api"]),
                params=rng.choice(target.params + [""] * 3), kernel_seed=rng.randrange(1 << 16))


def run_case(seed: int, case: int, pool: list[Target], workdir: Path) -> dict:
    t0 = time.perf_counter()
    c = make_case(seed, case, pool, workdir)
    c.run()
    return c.result(time.perf_counter() - t0)
