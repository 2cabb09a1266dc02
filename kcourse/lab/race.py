"""Writers at once on the real kernel: racy.ko loses updates on two CPUs, locked.ko does not.

    from kcourse.lab.race import run_writers
    run_writers("racy", writers=2, writes=1000, runs=10)      # -> Race; print(race.summary())
    experiment(("racy", "locked"), writes=1000, runs=10)      # both in one boot -> {name: Race}

The course modules data/modules/racy and data/modules/locked count the write() calls made to
/dev/racy and /dev/locked (racy.c: read the counter, udelay(2), write it back plus one, with no
lock; locked.c: the same under a mutex) and read() prints the counter. A guest of Debian's
kernel boots with `cpus` CPUs (-smp, multi-threaded TCG: one host thread per CPU,
kcourse.lab.live.qemu_command). The module is loaded once (its counter starts at 0). Each run
reads the counter, starts `writers` bash processes that each open the device once and write
it `writes` times (`echo x >&4`, one write(2) of 2 bytes each), waits for all of them and
reads the counter again: the run's count is how much it rose, and the run loses
`writers * writes - count`. After the last run the module is unloaded, and its own unload
message ("racy: unloaded, counter=<n>", racy.c: racy_exit) must give the last value read.

Not controlled here: where each write runs. The writers are ordinary processes placed by the
guest's scheduler; nothing pins them to a CPU. Nor the host: when it has no free core for a
virtual CPU, that CPU waits, and fewer updates collide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kcourse.errors import KcourseError
from kcourse.lab import guest as guest_side
from kcourse.lab.live import MAX_CPUS, Guest

if TYPE_CHECKING:
    from kcourse.lab.runner import RealKernel

# Course modules with the counter interface (each write() adds one, read() prints "<n>\n").
MODULES = ("racy", "locked")
MAX_WRITERS = 16
MAX_WRITES = 100_000  # per writer: about 15-30 s a run under TCG, within a line's timeout
MAX_RUNS = 1000

# The guest's side, one line each (the live shell keeps the functions for later lines).
# kc_writer W DEV: open DEV once, write it W times; a failed write ends it with status 1.
WRITER = ('kc_writer() { local i; exec 4>"$2" || return 1; '
          'for ((i = 0; i < $1; i++)); do echo x >&4 || return 1; done; }')
# kc_race N W DEV: read the counter, N writers at once, wait, read it again; prints
# "<before> <after> <start> <end>" (EPOCHREALTIME around the writers). Run in a subshell,
# `( ... )`, whose background jobs are not reported on stderr (`[1] 102`) as the
# interactive shell's are.
RACE = ('kc_race() { local n=$1 w=$2 dev=$3 k p pids=() bad=0 before after t0 t1; '
        'read -r before <"$dev" || return 1; t0=$EPOCHREALTIME; '
        'for ((k = 0; k < n; k++)); do kc_writer "$w" "$dev" & pids+=($!); done; '
        'for p in "${pids[@]}"; do wait "$p" || bad=1; done; t1=$EPOCHREALTIME; '
        'read -r after <"$dev" || return 1; '
        '[ "$bad" = 0 ] || { echo "a writer could not write $dev" >&2; return 1; }; '
        'echo "$before $after $t0 $t1"; }')
ONLINE = "cat /sys/devices/system/cpu/online"
UNLOADED = re.compile(r"^(\w+): unloaded, counter=(\d+)$")  # racy.c/locked.c *_exit


@dataclass(frozen=True)
class Run:
    """One run: the counter after `expected` writes in all, and how long the writers took."""

    expected: int
    count: int
    seconds: float  # first writer started to last one reaped, the guest's clock

    @property
    def lost(self) -> int:
        return self.expected - self.count

    @property
    def loss_rate(self) -> float:
        return self.lost / self.expected


@dataclass(frozen=True)
class Race:
    """`runs` runs of `writers` processes writing `writes` times each to /dev/<module>."""

    module: str
    cpus: int
    writers: int
    writes: int
    runs: tuple[Run, ...]
    boot_seconds: float

    @property
    def expected(self) -> int:
        return self.writers * self.writes

    @property
    def counts(self) -> list[int]:
        return [run.count for run in self.runs]

    @property
    def short_runs(self) -> int:
        """How many runs lost at least one update."""
        return sum(run.lost > 0 for run in self.runs)

    @property
    def loss_rate(self) -> float:
        """Updates lost over all runs, as a fraction of the writes made."""
        return sum(run.lost for run in self.runs) / (self.expected * len(self.runs))

    def summary(self) -> str:
        head = (f"{self.module}: {len(self.runs)} runs of {self.writers} writers x "
                f"{self.writes} writes on {self.cpus} CPU{'s' if self.cpus > 1 else ''}, "
                f"expected {self.expected} each")
        rows = [f"  run {i:>2}: {run.count:>7}  lost {run.lost:>6}  ({run.loss_rate:5.1%})  "
                f"{run.seconds:.2f} s" for i, run in enumerate(self.runs, 1)]
        tail = (f"  short in {self.short_runs} of {len(self.runs)} runs; "
                f"{self.loss_rate:.2%} of all updates lost")
        return "\n".join([head, *rows, tail])


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KcourseError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _check(modules, writers, writes, runs, cpus) -> tuple[str, ...]:
    if not isinstance(modules, str | list | tuple):
        raise KcourseError(f"modules must be a name or a list of names, not {modules!r}")
    names = (modules,) if isinstance(modules, str) else tuple(modules)
    for name in names:
        if name not in MODULES:
            raise KcourseError(f"{name!r} is not a counter module: the writers run on "
                               f"{' or '.join(MODULES)}")
    if not names:
        raise KcourseError(f"no module named: the writers run on {' or '.join(MODULES)}")
    _whole("writers", writers, 1, MAX_WRITERS)
    _whole("writes", writes, 1, MAX_WRITES)
    _whole("runs", runs, 1, MAX_RUNS)
    _whole("cpus", cpus, 1, MAX_CPUS)
    return names


def _ok(guest: Guest, line: str, what: str):
    result = guest.run([line])[0]
    if not result.ok:
        why = (result.stderr.strip().splitlines() or [f"status {result.rc}"])[-1]
        raise KcourseError(f"{what} failed in the guest: {why}")
    return result


def run_on(guest: Guest, module: str, writers: int = 2, writes: int = 1000,
           runs: int = 10) -> tuple[Run, ...]:
    """The runs on a booted guest where `module` is not loaded; it is loaded, and unloaded
    after the last run."""
    (module,) = _check(module, writers, writes, runs, guest.cpus)
    guest.run([WRITER, RACE])
    _ok(guest, f"insmod {guest_side.WORKDIR}/{module}/{module}.ko", f"insmod {module}")
    done, last = [], "0"
    for _ in range(runs):
        result = _ok(guest, f"(kc_race {writers} {writes} /dev/{module})", f"a {module} run")
        before, last, start, end = result.stdout.split()
        done.append(Run(writers * writes, int(last) - int(before), float(end) - float(start)))
    said = [m.groups() for m in map(UNLOADED.match, _ok(guest, f"rmmod {module}",
                                                         f"rmmod {module}").dmesg) if m]
    if said != [(module, last)]:
        raise KcourseError(f"{module} read {last} last but its unload message said "
                           f"{said or 'nothing'}")
    return tuple(done)


def experiment(modules=MODULES, writers: int = 2, writes: int = 1000, runs: int = 10,
               cpus: int = 2, kernel: RealKernel | None = None) -> dict[str, Race]:
    """Boot one guest with `cpus` CPUs and do `runs` runs of each module; {module: Race}.
    `kernel` is a kcourse.lab.RealKernel (its lab and timeout); by default a new one."""
    names = _check(modules, writers, writes, runs, cpus)
    from kcourse.lab.runner import RealKernel

    base = kernel or RealKernel()
    with RealKernel(lab=base.lab, timeout=base.timeout, cmdline=base.cmdline,
                    cpus=cpus).boot() as guest:
        online = guest.run([ONLINE])[0].stdout.strip()
        if online != ("0" if cpus == 1 else f"0-{cpus - 1}"):
            raise KcourseError(f"the guest was given {cpus} CPUs but has {online!r} online")
        done = {name: run_on(guest, name, writers, writes, runs) for name in names}
        return {name: Race(name, cpus, writers, writes, done[name], guest.boot_seconds)
                for name in names}


def run_writers(module: str, writers: int = 2, writes: int = 1000, runs: int = 10,
                cpus: int = 2, kernel: RealKernel | None = None) -> Race:
    """`runs` runs of `writers` processes writing /dev/<module> `writes` times each, on a
    fresh guest with `cpus` CPUs (see the module doc)."""
    return experiment((module,), writers, writes, runs, cpus, kernel)[module]


# ------------------------------------------------------------------ recordings
RECORDING = "race-smp2.json"  # in data/real: what the lesson shows of a real run


def to_record(races: dict[str, Race], note: str = "") -> dict:
    """A JSON-ready record of `races` (one experiment), with where it was run."""
    from kcourse import pin

    return {"kernel": pin.release(), "note": note,
            "races": {name: {"cpus": r.cpus, "writers": r.writers, "writes": r.writes,
                             "boot_seconds": r.boot_seconds,
                             "runs": [[run.count, run.seconds] for run in r.runs]}
                      for name, r in races.items()}}


def from_record(record: dict) -> dict[str, Race]:
    """The Races of a record written by to_record."""
    races = {}
    for name, r in record["races"].items():
        expected = r["writers"] * r["writes"]
        runs = tuple(Run(expected, count, seconds) for count, seconds in r["runs"])
        races[name] = Race(name, r["cpus"], r["writers"], r["writes"], runs, r["boot_seconds"])
    return races


def recorded() -> dict[str, Race]:
    """The real run the lesson shows (data/real/race-smp2.json; re-record with
    `python -m kcourse.lab.race --record`)."""
    import json

    from kcourse.paths import data_dir

    return from_record(json.loads((data_dir() / "real" / RECORDING).read_text()))


def _record_main() -> None:
    import json
    import platform
    import subprocess
    import sys

    from kcourse.paths import data_dir

    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m kcourse.lab.race --record")
    races = experiment(MODULES, writers=2, writes=1000, runs=10, cpus=2)
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True, check=False).stdout.splitlines()[:1]
    note = (f"kcourse.lab.race.experiment(('racy', 'locked'), writers=2, writes=1000, runs=10, "
            f"cpus=2) on {platform.machine()} with {' '.join(qemu)}, -accel tcg,thread=multi")
    path = data_dir() / "real" / RECORDING
    path.write_text(json.dumps(to_record(races, note), indent=1) + "\n")
    for race in races.values():
        print(race.summary())
    print(f"wrote {path}")


if __name__ == "__main__":
    _record_main()
