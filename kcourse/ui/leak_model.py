"""The leak panel's model: load/unload cycles of one module next to a user process doing the
same, and the memory each holds after every step. No widgets here.

Each cycle runs `insmod` and `rmmod` through the shell (kmod's texts), and in between a user
process (kcourse.userspace) mallocs exactly what the module's init kmalloc'ed (the sizes
come from the kernel's memory ledger) and exits without free(). The kernel keeps what the
module's exit path forgot (memory outlives rmmod: kcourse.kernel.memory); the process gets
everything back at exit (exit_mm). The samples are a kcourse.charts.MemoryTimeline.

One timeline over one kernel: picking another module adds its series and keeps the earlier
ones, sampled after every step from then on, so leaker's staircase stays flat while noleak's
line goes up and back to 0. Only reboot() starts over, with a new Kernel (the ledger empties,
as after a real reboot: kcourse.kernel.memory).
"""

from __future__ import annotations

from kcourse.backend import CommandResult
from kcourse.charts import TOTAL_SERIES, USER_SERIES, MemoryTimeline
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.kernel import Kernel
from kcourse.ui.backend import PanelBackend
from kcourse.ui.choices import resolve_choice
from kcourse.userspace import UserSystem

__all__ = ["TOTAL_SERIES", "USER_SERIES", "LeakModel"]


class LeakModel:
    """`target`: a Kernel or a shell over one (the ledger is the simulated kernel's)."""

    def __init__(self, target=None, module: str = "leaker", seed: int = 0):
        self.backend = PanelBackend(target)
        if self.backend.kernel is None:
            raise KcourseError("the leak panel needs a simulated kernel (its memory ledger)")
        self.seed = seed
        self.module = ""
        self._start(module, "start")

    def _start(self, module: str, label: str) -> None:
        self.users = UserSystem(seed=self.seed)
        self.modules: list[str] = []  # series, in the order they were picked
        self.cycle_counts: dict[str, int] = {}
        self.last: CommandResult | None = None
        self.user_sizes: list[int] = []
        self.timeline = MemoryTimeline()
        self.select(module)
        self._sample(label, None)

    @property
    def kernel(self) -> Kernel:
        """The kernel the panel runs on (a new one after each reboot())."""
        return self.backend.kernel

    @property
    def ledger(self):
        """The kernel's memory ledger (kcourse.kernel.memory), new after each reboot()."""
        return self.backend.kernel.memory

    @property
    def cycles_done(self) -> int:
        """Cycles of the current module since the last reboot."""
        return self.cycle_counts.get(self.module, 0)

    def select(self, choice: str) -> None:
        """Pick the module to cycle. Its series joins the timeline (the earlier modules' stay);
        for the steps before, it shows what the ledger counts for it now: the panel did not
        load it then, so nothing of it changed on this timeline."""
        path = resolve_choice(choice)
        name = KoFile(path).name
        self.path, self.module = path, name
        if name in self.modules:
            return
        self.modules.append(name)
        held = self.timeline.held
        steps = len(self.timeline.labels)
        series = {m: held.get(m, [self.ledger.held_by(m)] * steps) for m in self.modules}
        if steps:
            series[TOTAL_SERIES], series[USER_SERIES] = held[TOTAL_SERIES], held[USER_SERIES]
        self.timeline.held = series

    def reboot(self) -> None:
        """Start over on a new Kernel (same seed): whatever leaked is gone, as after a real
        reboot; the timeline restarts with the current module alone."""
        old = self.backend.kernel
        self.backend = PanelBackend(Kernel(seed=old.seed, sig_enforce=old.sig_enforce))
        self._start(str(self.path), "boot")

    def cycle(self) -> CommandResult:
        """insmod, a user process mallocs the same, rmmod, the process exits. Stops at the first
        refused command, which is kept in `last` (nothing else changes)."""
        before = {a.id for a in self.ledger.outstanding(self.module)}
        self.last = self.backend.run(f"insmod {self.backend.ko_arg(self.path)}")
        if not self.last.ok:
            return self.last
        number = self.cycles_done + 1
        step = f"{self.module} {number}"
        self.user_sizes = [a.requested for a in self.ledger.outstanding(self.module)
                           if a.id not in before]
        proc = self.users.spawn(self.module)
        for size in self.user_sizes:
            proc.malloc(size)  # ... and never free(), like the module's exit path
        self._sample(f"insmod {step}", proc)
        self.last = self.backend.run(f"rmmod {self.module}")
        if not self.last.ok:
            proc.exit(0)
            self._sample(f"exit {step}", proc)
            self.cycle_counts[self.module] = number
            return self.last
        proc.exit(0)
        self.cycle_counts[self.module] = number
        self._sample(f"rmmod {step}", proc)
        return self.last

    def run_cycles(self, count: int) -> CommandResult | None:
        result = None
        for _ in range(count):
            result = self.cycle()
            if not result.ok:
                break
        return result

    def held(self) -> dict[str, int]:
        """The last sample: bytes held per series."""
        return {name: values[-1] for name, values in self.timeline.held.items()}

    def summary(self) -> str:
        held = self.held()
        return (f"after {self.cycles_done} cycle{'s' if self.cycles_done != 1 else ''}: "
                f"the kernel still holds {held[self.module]} bytes for {self.module} "
                f"({held[TOTAL_SERIES]} bytes in all); the user process holds "
                f"{held[USER_SERIES]} bytes after exit")

    def _sample(self, label: str, proc) -> None:
        self.timeline.add(label, {
            **{m: self.ledger.held_by(m) for m in self.modules},
            TOTAL_SERIES: self.ledger.total(),
            USER_SERIES: proc.held if proc is not None and proc.alive else 0,
        })
