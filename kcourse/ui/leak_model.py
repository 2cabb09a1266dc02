"""The leak panel's model: load/unload cycles of one module next to a user process doing the
same, and the memory each holds after every step. No widgets here.

Each cycle runs `insmod` and `rmmod` through the shell (kmod's texts), and in between a user
process (kcourse.userspace) mallocs exactly what the module's init kmalloc'ed (the sizes
come from the kernel's memory ledger) and exits without free(). The kernel keeps what the
module's exit path forgot (memory outlives rmmod: kcourse.kernel.memory); the process gets
everything back at exit (exit_mm). The samples are a kcourse.charts.MemoryTimeline.
"""

from __future__ import annotations

from kcourse.backend import CommandResult
from kcourse.charts import MemoryTimeline
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.ui.backend import PanelBackend
from kcourse.ui.choices import resolve_choice
from kcourse.userspace import UserSystem

USER_SERIES = "user process"
TOTAL_SERIES = "kernel total"


class LeakModel:
    """`target`: a Kernel or a shell over one (the ledger is the simulated kernel's)."""

    def __init__(self, target=None, module: str = "leaker", seed: int = 0):
        self.backend = PanelBackend(target)
        if self.backend.kernel is None:
            raise KcourseError("the leak panel needs a simulated kernel (its memory ledger)")
        self.ledger = self.backend.kernel.memory
        self.users = UserSystem(seed=seed)
        self.module = ""
        self.cycles_done = 0
        self.last: CommandResult | None = None
        self.user_sizes: list[int] = []
        self.timeline = MemoryTimeline()
        self.select(module)

    def select(self, choice: str) -> None:
        """Pick the module to cycle; the timeline starts again from the current memory."""
        path = resolve_choice(choice)
        self.path, self.module = path, KoFile(path).name
        self.timeline = MemoryTimeline()
        self.cycles_done = 0
        self._sample("start", None)

    def series_names(self) -> list[str]:
        return [self.module, TOTAL_SERIES, USER_SERIES]

    def cycle(self) -> CommandResult:
        """insmod, a user process mallocs the same, rmmod, the process exits. Stops at the first
        refused command, which is kept in `last` (nothing else changes)."""
        before = {a.id for a in self.ledger.outstanding(self.module)}
        self.last = self.backend.run(f"insmod {self.backend.ko_arg(self.path)}")
        if not self.last.ok:
            return self.last
        number = self.cycles_done + 1
        self.user_sizes = [a.requested for a in self.ledger.outstanding(self.module)
                           if a.id not in before]
        proc = self.users.spawn(self.module)
        for size in self.user_sizes:
            proc.malloc(size)  # ... and never free(), like the module's exit path
        self._sample(f"insmod {number}", proc)
        self.last = self.backend.run(f"rmmod {self.module}")
        if not self.last.ok:
            proc.exit(0)
            self._sample(f"exit {number}", proc)
            self.cycles_done = number
            return self.last
        proc.exit(0)
        self.cycles_done = number
        self._sample(f"rmmod {number}", proc)
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
            self.module: self.ledger.held_by(self.module),
            TOTAL_SERIES: self.ledger.total(),
            USER_SERIES: proc.held if proc is not None and proc.alive else 0,
        })
